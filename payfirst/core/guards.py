"""Input guards in front of every view: a body limit per endpoint checked on Content-Length before anything reads the
body (413 payload_too_large), and no NUL character or over-long query string ever reaching a view or the database.

A view declares its own limit with a `max_body_bytes` class attribute, bytes or the name of a setting (webhooks:
"WEBHOOK_MAX_BODY_BYTES"); other API views get API_MAX_BODY_BYTES, and everything else (the admin's forms) Django's
DATA_UPLOAD_MAX_MEMORY_SIZE.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.views import APIView

from payfirst.core.api import error_body


def body_limit_of(view_func: Callable[..., Any]) -> int:
    """The largest body, in bytes, the view behind `view_func` accepts."""
    view_class = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
    return body_limit_of_class(view_class, declared=getattr(view_func, "max_body_bytes", None))


def body_limit_of_class(view_class: Any, *, declared: Any = None) -> int:
    """The largest body, in bytes, a view class accepts (the OpenAPI document states it per operation)."""
    declared = getattr(view_class, "max_body_bytes", None) or declared
    if isinstance(declared, str):
        return int(getattr(settings, declared))
    if declared:
        return int(declared)
    if isinstance(view_class, type) and issubclass(view_class, APIView):
        return int(settings.API_MAX_BODY_BYTES)
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or settings.API_MAX_BODY_BYTES)


def payload_too_large(limit: int) -> JsonResponse:
    return JsonResponse(
        error_body("payload_too_large", f"The request body is larger than this endpoint's limit of {limit} bytes."),
        status=413,
    )


def _invalid(message: str, field: str) -> JsonResponse:
    return JsonResponse(error_body("invalid_input", "Check the highlighted fields.", {field: [message]}), status=400)


class RequestGuardMiddleware:
    """Refuse what no view should see. Sits right after the request-id and metrics middleware, so these answers
    are counted and carry X-Request-ID, and before CSRF and sessions, which may read a form body."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:
            # No object has a NUL in its id or slug; PostgreSQL could not even be asked.
            return JsonResponse(error_body("not_found", "Not found."), status=404)
        query_string = request.META.get("QUERY_STRING", "")
        if len(query_string) > settings.MAX_QUERY_STRING_BYTES:
            return _invalid(f"The query string is longer than {settings.MAX_QUERY_STRING_BYTES} bytes.", "query")
        if query_string:
            for key, values in request.GET.lists():
                if "\x00" in key or any("\x00" in value for value in values):
                    # DRF's own words for the same refusal, so a field reads the same wherever it was caught.
                    return _invalid("Null characters are not allowed.", key.replace("\x00", "") or "query")
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        raw_length = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw_length)
        except ValueError:
            return JsonResponse(
                error_body("malformed_request", "The Content-Length header is not a number."), status=400
            )
        limit = body_limit_of(view_func)
        if length > limit:
            # Answered from the header alone: not one byte of the body is read.
            return payload_too_large(limit)
        return None
