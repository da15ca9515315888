"""Every error answers in API.md's one shape: validation, bad JSON, 401, 404, 405, 415, and unexpected exceptions.

This module is also the URL conf of its own tests (`pytest.mark.urls(__name__)`): the real routes plus a few views
that exist only to fail in known ways.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.test import override_settings
from django.urls import include, path
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payfirst.core.errors import Conflict
from payfirst.core.logging import RequestIdFilter

SECRET = "hunter2-should-never-leave-the-server"


class _PublicApi(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]


class CrashApi(_PublicApi):
    def get(self, request: Request) -> Response:
        raise RuntimeError(f"connection string contains {SECRET}")


def crash_view(request: HttpRequest) -> HttpResponse:
    raise KeyError(SECRET)


class DatabaseGoneApi(_PublicApi):
    def get(self, request: Request) -> Response:
        raise OperationalError(f"connection to server at 127.0.0.1 failed ({SECRET}): the database is shutting down")


class _NestedLine(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=1, max_value=99)


class _NestedPlace(serializers.Serializer):
    postal_code = serializers.RegexField(r"^[1-9][0-9]{5}$", error_messages={"invalid": "Enter a 6-digit PIN."})


class _NestedSerializer(serializers.Serializer):
    lines = _NestedLine(many=True)
    place = _NestedPlace()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if len(attrs["lines"]) > 2:
            raise serializers.ValidationError("At most two lines.")
        return attrs


class NestedInputApi(_PublicApi):
    def post(self, request: Request) -> Response:
        nested = _NestedSerializer(data=request.data)
        nested.is_valid(raise_exception=True)
        return Response(nested.validated_data)


class RaisesApi(_PublicApi):
    """Raises what the `kind` query parameter names, to show how each known error renders."""

    def get(self, request: Request) -> Response:
        kind = request.query_params["kind"]
        if kind == "http404":
            raise Http404("no such thing: internal detail")
        if kind == "permission":
            raise PermissionDenied("internal detail")
        if kind == "conflict":
            raise Conflict("Payment 7 is captured and cannot be cancelled.")
        return Response({"kind": kind})


urlpatterns = [
    path("test-errors/crash-drf/", CrashApi.as_view()),
    path("test-errors/crash-django/", crash_view),
    path("test-errors/database-gone/", DatabaseGoneApi.as_view()),
    path("test-errors/nested/", NestedInputApi.as_view()),
    path("test-errors/raises/", RaisesApi.as_view()),
    path("", include("config.urls")),
]
handler404 = "payfirst.core.api.not_found_view"
handler500 = "payfirst.core.api.server_error_view"

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


# --- 400 ---------------------------------------------------------------------------------------------------------


def test_validation_errors_name_each_field(api_client):
    response = api_client.post("/api/auth/register/", {"email": "nope", "full_name": ""}, format="json")
    error = _error(response, 400, "invalid_input")
    assert set(error) == {"code", "message", "fields"}
    assert set(error["fields"]) == {"email", "password", "full_name"}
    assert all(isinstance(m, str) for messages in error["fields"].values() for m in messages)


def test_nested_validation_errors_are_flattened_to_dotted_paths(api_client):
    response = api_client.post(
        "/test-errors/nested/",
        {"lines": [{"quantity": 1}, {"quantity": 0}], "place": {"postal_code": "012345"}},
        format="json",
    )
    fields = _error(response, 400, "invalid_input")["fields"]
    assert set(fields) == {"lines.1.quantity", "place.postal_code"}
    assert fields["place.postal_code"] == ["Enter a 6-digit PIN."]


def test_object_level_validation_errors_are_non_field_errors(api_client):
    response = api_client.post(
        "/test-errors/nested/",
        {"lines": [{"quantity": 1}] * 3, "place": {"postal_code": "560001"}},
        format="json",
    )
    assert _error(response, 400, "invalid_input")["fields"] == {"non_field_errors": ["At most two lines."]}


@pytest.mark.parametrize("body", [b'{"email": "a@b.in", ', b"\xff\xfe", b"not json at all"])
def test_malformed_json_is_400_malformed_request(api_client, body):
    response = api_client.post("/api/auth/register/", body, content_type="application/json")
    error = _error(response, 400, "malformed_request")
    assert "fields" not in error


def test_a_json_list_where_an_object_is_expected_is_400_not_500(api_client):
    _error(api_client.post("/api/auth/register/", [], format="json"), 400, "invalid_input")


def test_a_body_that_is_not_json_is_415(api_client):
    response = api_client.post("/api/auth/register/", "email=a@b.in", content_type="application/x-www-form-urlencoded")
    _error(response, 415, "unsupported_media_type")


# --- 401 / 403 ---------------------------------------------------------------------------------------------------


def test_401_without_a_token(api_client):
    response = api_client.get("/api/auth/profile/")
    _error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer not-a-jwt", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl", "Basic abc"])
def test_401_with_a_bad_or_foreign_token(api_client, header):
    api_client.credentials(HTTP_AUTHORIZATION=header)
    response = api_client.get("/api/auth/profile/")
    code = "not_authenticated" if header.startswith("Basic") else "authentication_failed"
    _error(response, 401, code)


def test_401_with_a_refresh_token_used_as_an_access_token(api_client, user):
    from rest_framework_simplejwt.tokens import RefreshToken

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user)}")
    _error(api_client.get("/api/auth/profile/"), 401, "authentication_failed")


def test_django_permission_denied_is_403_forbidden_without_its_detail(api_client):
    error = _error(api_client.get("/test-errors/raises/", {"kind": "permission"}), 403, "forbidden")
    assert "internal detail" not in error["message"]


# --- 404 / 405 / 409 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/api/auth/addresses/987654/", "/api/catalog/products/987654/", "/api/no-such-endpoint/", "/no-such-page"],
)
def test_unknown_ids_and_paths_are_404_not_found(auth_client, path):
    _error(auth_client.get(path), 404, "not_found")


def test_http404_raised_in_a_view_is_not_found_without_its_detail(api_client):
    error = _error(api_client.get("/test-errors/raises/", {"kind": "http404"}), 404, "not_found")
    assert "internal detail" not in error["message"]


def test_method_not_allowed_is_405_and_names_the_method(auth_client):
    error = _error(auth_client.delete("/api/auth/profile/"), 405, "method_not_allowed")
    assert "DELETE" in error["message"]
    _error(auth_client.get("/api/auth/register/"), 405, "method_not_allowed")


def test_an_app_error_keeps_its_code_status_and_message(api_client):
    error = _error(api_client.get("/test-errors/raises/", {"kind": "conflict"}), 409, "conflict")
    assert error["message"] == "Payment 7 is captured and cannot be cancelled."


# --- 500 ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def console_log() -> Iterator[io.StringIO]:
    """The JSON lines the console handler from settings.LOGGING writes (its formatter and request-id filter)."""
    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, RequestIdFilter) for f in h.filters))
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


@pytest.mark.parametrize("path", ["/test-errors/crash-drf/", "/test-errors/crash-django/"])
@pytest.mark.parametrize("debug", [False, True])
def test_an_unexpected_exception_is_500_internal_error_with_nothing_leaked(client, path, debug):
    with override_settings(DEBUG=debug):
        response = client.get(path)
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == "internal_error"
    text = response.content.decode()
    for leak in (SECRET, "Traceback", "RuntimeError", "KeyError", "connection string", __file__):
        assert leak not in text


def test_the_unexpected_exception_is_logged_with_the_request_id_and_its_traceback(client, console_log):
    response = client.get("/test-errors/crash-drf/", HTTP_X_REQUEST_ID="req-err-4711")
    assert response.status_code == 500
    assert response["X-Request-ID"] == "req-err-4711"

    lines = [json.loads(line) for line in console_log.getvalue().splitlines() if line.strip()]
    errors = [line for line in lines if line.get("level") == "ERROR" and line.get("logger") == "payfirst.errors"]
    assert len(errors) == 1, lines
    assert errors[0]["request_id"] == "req-err-4711"
    assert "/test-errors/crash-drf/" in errors[0]["message"]
    assert SECRET in errors[0].get("exc_info", "")  # the detail goes to the log, never to the client


def test_a_database_that_went_away_is_503_with_retry_after_and_no_detail(client, console_log):
    """During a PostgreSQL restart every request answered 500 internal_error with a traceback; a client should retry."""
    response = client.get("/test-errors/database-gone/")

    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    body = response.json()
    assert set(body["error"]) == {"code", "message"} and body["error"]["code"] == "database_unavailable"
    assert SECRET not in response.content.decode()
    lines = [json.loads(line) for line in console_log.getvalue().splitlines() if line.strip()]
    warnings = [line for line in lines if line.get("logger") == "payfirst.errors"]
    assert [line["level"] for line in warnings] == ["WARNING"] and "exc_info" not in warnings[0]


def test_a_generated_request_id_is_the_same_in_the_log_and_the_response(client, console_log):
    response = client.get("/test-errors/crash-django/")
    request_id = response["X-Request-ID"]
    assert request_id
    lines = [json.loads(line) for line in console_log.getvalue().splitlines() if line.strip()]
    errors = [line for line in lines if line.get("logger") == "payfirst.errors"]
    assert [line["request_id"] for line in errors] == [request_id]
    assert {line["request_id"] for line in lines} == {request_id}  # every line the request wrote carries it
