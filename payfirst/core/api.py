"""API plumbing shared by every app: the one error shape, pagination, and request helpers."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import DisallowedHost, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import set_rollback

from payfirst.core.errors import AppError, InvalidInput

logger = logging.getLogger("payfirst.errors")

_DRF_CODES: dict[type[drf.APIException], tuple[str, str]] = {
    drf.NotAuthenticated: ("not_authenticated", "Sign in to do this."),
    drf.AuthenticationFailed: ("authentication_failed", "Your credentials or token are not valid."),
    drf.PermissionDenied: ("forbidden", "You are not allowed to do this."),
    drf.NotFound: ("not_found", "Not found."),
    drf.MethodNotAllowed: ("method_not_allowed", "This method is not allowed here."),
    drf.NotAcceptable: ("not_acceptable", "This response format is not available."),
    drf.UnsupportedMediaType: ("unsupported_media_type", "Send the request body as JSON."),
    drf.ParseError: ("malformed_request", "The request body is not valid JSON."),
    drf.Throttled: ("throttled", "Too many requests. Please wait and try again."),
}


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested validation detail into {"field" or "parent.child": ["message", ...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out.setdefault(prefix or "non_field_errors", []).extend(str(item) for item in detail)
        else:
            for index, item in enumerate(detail):
                out.update(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render AppError, DRF errors and Http404 as {"error": {...}}. Anything else returns None and surfaces as a 500."""
    headers: dict[str, str] = {}
    if isinstance(exc, AppError):
        body, status = error_body(exc.code, exc.message, exc.fields), exc.status
    elif isinstance(exc, SuspiciousOperation):
        # Django's own refusals raised inside a view (a body read past DATA_UPLOAD_MAX_MEMORY_SIZE, too many fields).
        body, status = _suspicious_body(exc)
    elif isinstance(exc, Http404):
        body, status = error_body("not_found", "Not found."), 404
    elif isinstance(exc, DjangoPermissionDenied):
        body, status = error_body("forbidden", "You are not allowed to do this."), 403
    elif isinstance(exc, drf.ValidationError):
        fields = _flatten(exc.detail)
        body, status = error_body(InvalidInput.code, InvalidInput.message, fields), 400
    elif isinstance(exc, drf.APIException):
        code, message = next(
            (pair for cls, pair in _DRF_CODES.items() if isinstance(exc, cls)),
            (str(exc.default_code), str(exc.detail)),
        )
        status = exc.status_code
        # drf-stubs leave out Throttled.wait and the auth exceptions' auth_header, which DRF sets on the instance.
        wait: float | None = getattr(exc, "wait", None) if isinstance(exc, drf.Throttled) else None
        if wait is not None:
            headers["Retry-After"] = str(max(1, int(wait + 0.999)))
            message = f"Too many requests. Try again in {headers['Retry-After']} seconds."
        if isinstance(exc, drf.MethodNotAllowed):
            message = f"Method {context['request'].method} is not allowed here."
        auth_header: str | None = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        body = error_body(code, message)
    else:
        return None
    set_rollback()
    return Response(body, status=status, headers=headers)


class PagePagination(PageNumberPagination):
    """`?page=N`; answers {"count", "next", "previous", "results"}."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        # All four keys are always in the answer (next and previous as null when there is none).
        response = super().get_paginated_response_schema(schema)
        response["required"] = ["count", "next", "previous", "results"]
        return response


def idempotency_key_from(request: Request) -> str | None:
    """The Idempotency-Key header, if sent: any string of 1 to 255 characters."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not key or len(key) > 255 or not key.isprintable():
        raise InvalidInput(
            "Idempotency-Key must be 1 to 255 printable characters.",
            fields={"Idempotency-Key": ["Must be 1 to 255 printable characters."]},
        )
    return key


def _suspicious_body(exc: Exception | None) -> tuple[dict[str, Any], int]:
    if isinstance(exc, RequestDataTooBig):
        return error_body("payload_too_large", "The request body is larger than this endpoint accepts."), 413
    if isinstance(exc, DisallowedHost):
        return error_body("bad_request", "This host name is not served here."), 400
    return error_body("bad_request", "The request could not be understood."), 400


def bad_request_view(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Django's 400s (SuspiciousOperation, DisallowedHost, a body past DATA_UPLOAD_MAX_MEMORY_SIZE: 413)."""
    body, status = _suspicious_body(exception)
    return JsonResponse(body, status=status)


def permission_denied_view(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("forbidden", "You are not allowed to do this."), status=403)


def not_found_view(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def server_error_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        error_body("internal_error", "Something went wrong on our side. It has been logged; please try again."),
        status=500,
    )


def csrf_failure_view(request: HttpRequest, reason: str = "") -> JsonResponse:
    """CSRF failures (the admin's forms; the JSON API uses bearer tokens and is exempt) in the one error shape."""
    return JsonResponse(
        error_body("csrf_failed", "The form's security token is missing or stale. Reload the page and try again."),
        status=403,
    )
