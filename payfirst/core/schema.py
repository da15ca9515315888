"""OpenAPI building blocks every app reuses: the one error shape as a component, and ready-made error responses.

Use them in `@extend_schema(responses={...})` so each operation documents its errors the way API.md renders them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from drf_spectacular import openapi
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

from payfirst.core.guards import body_limit_of_class
from payfirst.core.throttling import is_counted


def _error_shape(
    *,
    component: str,
    detail_component: str,
    code: serializers.Field,
    message_help: str | None,
    fields_help: str | None,
    description: str | None = None,
) -> serializers.Serializer:
    """The one error shape of the API, `{"error": {"code", "message", "fields"?}}`, as the named schema components
    (`description` is the outer component's). Built at run time because the detail has a field called `fields`,
    which a Serializer subclass could only declare by shadowing its own `fields` property."""
    detail = inline_serializer(
        name=detail_component,
        fields={
            "code": code,
            "message": serializers.CharField(help_text=message_help),
            "fields": serializers.DictField(
                child=serializers.ListField(child=serializers.CharField()), required=False, help_text=fields_help
            ),
        },
    )
    # As inline_serializer builds it, plus the docstring drf-spectacular shows as the component's description.
    return type(component, (serializers.Serializer,), {"__doc__": description, "error": detail})()


@cache  # one serializer per component name: drf-spectacular warns when two classes share a name
def _shared_error(component: str) -> serializers.Serializer:
    return _error_shape(
        component=component,
        detail_component=f"{component}Detail",
        code=serializers.CharField(help_text="snake_case and stable, e.g. `invalid_input`, `not_found`, `throttled`"),
        message_help="a sentence for a person",
        fields_help="only for validation errors: field name (`parent.child` when nested) to its messages",
        description='The one error shape of the API: `{"error": {"code", "message", "fields"?}}`.',
    )


ERROR = _shared_error("Error")


def error_response(description: str, *, component: str | None = None) -> OpenApiResponse:
    """An error response in the one shape; `description` names the codes it can carry and when. `component` gives the
    shape a schema component of its own name (the catalog's `CatalogError`), with the same fields and help texts."""
    return OpenApiResponse(ERROR if component is None else _shared_error(component), description=description)


def coded_error_response(
    *, component: str, detail_component: str, codes: list[str], description: str, with_help: bool
) -> OpenApiResponse:
    """The one error shape as its own schema component, with `code` narrowed to the codes an endpoint can answer
    with. `with_help` adds the field descriptions (the cart's components carry them, the payments' do not)."""
    shape = _error_shape(
        component=component,
        detail_component=detail_component,
        code=serializers.ChoiceField(choices=codes),
        message_help="a sentence for a person" if with_help else None,
        fields_help="only for validation errors: field name to messages" if with_help else None,
    )
    return OpenApiResponse(shape, description=description)


INVALID_INPUT = error_response("`invalid_input`, with `fields` naming what to fix; `malformed_request` for bad JSON.")
NOT_AUTHENTICATED = error_response(
    "`not_authenticated`: no bearer token; `authentication_failed`: the token is invalid or expired."
)
FORBIDDEN = error_response("`forbidden`: signed in but not allowed (staff only).")
NOT_FOUND = error_response("`not_found`: no such object of yours, or no such page.")
CONFLICT = error_response("A conflict with the current state; the code says which.")
THROTTLED = error_response("`throttled`: too many requests; wait the seconds in `Retry-After`.")

# Attach with `parameters=[RETRY_AFTER]` beside a 429 response: the header tells the client how long to wait.
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    type=OpenApiTypes.INT,
    location=OpenApiParameter.HEADER,
    response=[429],
    description="seconds to wait before trying again",
)


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, plus what every operation shares: a 400 for input refused before any view, the
    413 with the endpoint's body limit on
    each operation that takes a body, and the 429 with Retry-After on each rate-limited one."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        # Here rather than in get_response_serializers, which @extend_schema(responses=...) replaces.
        responses = dict(super()._get_response_bodies(direction))
        if "400" not in responses:
            # Any request may carry a NUL byte or an over-long query string: refused before the view (core/guards.py).
            described = error_response("`invalid_input`: a NUL byte, or a query string over the limit.")
            responses["400"] = self._get_response_for_code(described, "400", direction=direction)
        if self.method in ("POST", "PUT", "PATCH") and "413" not in responses:
            limit = body_limit_of_class(type(self.view))
            described = error_response(f"`payload_too_large`: the body is over this endpoint's {limit} bytes.")
            responses["413"] = self._get_response_for_code(described, "413", direction=direction)
        if "429" not in responses and any(is_counted(throttle) for throttle in self.view.get_throttles()):
            responses["429"] = self._get_response_for_code(THROTTLED, "429", direction=direction)
        return responses

    def _get_response_headers_for_code(self, status_code: Any, direction: Any = "response") -> dict[str, Any]:
        headers = super()._get_response_headers_for_code(status_code, direction)
        if str(status_code) == "429" and "Retry-After" not in headers:
            headers["Retry-After"] = {
                "schema": {"type": "integer"},
                "description": "seconds to wait before trying again",
                "required": True,
            }
        return headers
