"""URLs for the logging tests: views that log during a request and one that fails unexpectedly."""

import logging

from django.http import HttpRequest, JsonResponse
from django.urls import path

logger = logging.getLogger("payfirst.tests")


def chatty(request: HttpRequest, item_id: int) -> JsonResponse:
    logger.info("looking at item %s", item_id)
    logger.warning("item %s looks odd", item_id)
    return JsonResponse({"id": item_id})


def broken(request: HttpRequest) -> JsonResponse:
    raise RuntimeError("an unexpected failure")


urlpatterns = [
    path("chatty/<int:item_id>/", chatty),
    path("broken/", broken),
]
