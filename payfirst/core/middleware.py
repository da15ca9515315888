"""Request ids and the last line of defence for unexpected errors."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable

from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

from payfirst.core.api import error_body, server_error_view
from payfirst.core.logging import request_id_var

logger = logging.getLogger("payfirst.errors")
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdMiddleware:
    """Take X-Request-ID from the caller when it is sane, else make one; log it on every line and echo it back.

    An exception no handler knew is logged here with its traceback and answered as a plain internal_error,
    whatever DEBUG says: an answer never carries a stack trace.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, (Http404, PermissionDenied, SuspiciousOperation, BadRequest)):
            return None  # Django answers these itself (404, 403, 400) through the handlers in config/urls.py
        if isinstance(exception, (OperationalError, InterfaceError)):
            # The database is away (a restart, a fail-over, a lost connection): nothing is wrong with the request
            # and the client may try again. One line in the log, no traceback: a restart would write hundreds.
            logger.warning("Database unavailable on %s %s: %s", request.method, request.path, exception)
            response = JsonResponse(
                error_body("database_unavailable", "The service is briefly unavailable. Please try again."),
                status=503,
            )
            response["Retry-After"] = "1"
            return response
        logger.error("Unhandled error on %s %s", request.method, request.path, exc_info=exception)
        return server_error_view(request)
