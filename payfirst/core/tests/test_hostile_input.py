"""The hostile inputs that once answered 500 (or Django's HTML), kept as a corpus: each now gets a 4xx in the one
error shape, on SQLite and PostgreSQL alike. Nested brackets and NUL bytes go to every operation in the OpenAPI
document that takes a body, so a new endpoint is covered the day it is added."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator

from conftest import client_for
from payfirst.core.parsers import nesting_depth

pytestmark = pytest.mark.django_db

NESTED_1000 = "[" * 1000 + "]" * 1000
NESTED_OBJECTS = '{"a":' * 1000 + "1" + "}" * 1000


def _error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"]["message"], str)
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def _body_operations() -> list[tuple[str, str, bool]]:
    """(method, path with ids filled in, whether it reads a JSON body) for every documented POST, PUT and PATCH."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, item in schema["paths"].items():
        if path.startswith("/sandbox/"):
            continue  # the gateways' stand-in answers in their shapes, not ours
        for method, operation in item.items():
            if method in {"post", "put", "patch"}:
                concrete = path
                for parameter in operation.get("parameters", []) + item.get("parameters", []):
                    if parameter.get("in") == "path":
                        concrete = concrete.replace("{" + parameter["name"] + "}", "1")
                reads_json = "application/json" in operation.get("requestBody", {}).get("content", {})
                found.append((method, concrete.replace("{id}", "1"), reads_json and "webhook" not in path))
    return sorted(found)


BODY_OPERATIONS = _body_operations()


def test_the_corpus_reaches_the_public_sign_up_sign_in_and_refresh():
    paths = {path for _, path, _ in BODY_OPERATIONS}
    assert {"/api/auth/register/", "/api/auth/token/", "/api/auth/token/refresh/"} <= paths
    assert len(BODY_OPERATIONS) >= 10


@pytest.mark.parametrize("method, path, reads_json", BODY_OPERATIONS)
@pytest.mark.parametrize("body", [NESTED_1000, NESTED_OBJECTS], ids=["brackets", "objects"])
def test_json_nested_1000_deep_is_a_400_on_every_endpoint_with_a_body(staff_user, method, path, reads_json, body):
    client = client_for(staff_user)
    response = getattr(client, method)(path, data=body, content_type="application/json")
    assert 400 <= response.status_code < 500, (path, response.status_code, response.content[:200])
    _error(response, response.status_code)
    # A webhook is refused on its signature first (its body is never parsed unsigned); an id that is not there may
    # be refused before the body is read.
    if reads_json and response.status_code != 404:
        _error(response, 400, "malformed_request")


@pytest.mark.parametrize("method, path, reads_json", BODY_OPERATIONS)
def test_a_nul_character_in_json_is_a_400_on_every_endpoint_with_a_body(staff_user, method, path, reads_json):
    client = client_for(staff_user)
    body = json.dumps({"email": "a\u0000@example.com", "x\u0000": "y", "reason": "\u0000", "code": "\u0000"})
    response = getattr(client, method)(path, data=body, content_type="application/json")
    assert 400 <= response.status_code < 500, (path, response.status_code, response.content[:200])
    _error(response, response.status_code)
    if reads_json and response.status_code != 404:
        _error(response, 400, "invalid_input")


@pytest.mark.parametrize("path", ["/api/auth/register/", "/api/auth/token/", "/api/auth/token/refresh/"])
def test_the_public_endpoints_refuse_deep_json_without_a_token(api_client, path):
    _error(api_client.post(path, data=NESTED_1000, content_type="application/json"), 400, "malformed_request")


def test_depth_within_the_limit_is_parsed_as_usual(api_client):
    body = json.dumps({"email": [[["x"]]], "password": "p"})
    error = _error(api_client.post("/api/auth/token/", data=body, content_type="application/json"), 400)
    assert error["code"] == "invalid_input"


@override_settings(API_MAX_JSON_DEPTH=3)
def test_the_depth_limit_comes_from_settings_and_ignores_brackets_inside_strings(api_client):
    inside_strings = json.dumps({"email": "[[[[[[[[{{{{", "password": '\\"[[[['})
    assert nesting_depth(inside_strings) == 1
    response = api_client.post("/api/auth/token/", data=inside_strings, content_type="application/json")
    _error(response, 401, "authentication_failed")  # parsed: the email is simply not an account's
    too_deep = json.dumps({"email": [[["x"]]]})
    error = _error(api_client.post("/api/auth/token/", data=too_deep, content_type="application/json"), 400)
    assert error["code"] == "malformed_request" and "3 levels" in error["message"]


def test_invalid_utf8_is_a_400(api_client):
    response = api_client.post("/api/auth/token/", data=b'{"email": "\xff\xfe"}', content_type="application/json")
    _error(response, 400, "malformed_request")


# --- NUL bytes and over-long strings outside JSON --------------------------------------------------------------------


def test_a_nul_in_a_path_parameter_is_a_404(auth_client):
    _error(auth_client.get("/api/payments/cart/status/%00/"), 404, "not_found")
    _error(auth_client.get("/api/payments/%00/"), 404, "not_found")
    _error(auth_client.get("/api/catalog/products/%00/"), 404, "not_found")


@pytest.mark.parametrize(
    "url",
    ["/api/auth/check-email/?email=a%00@example.com", "/api/catalog/products/?search=%00", "/api/payments/?x%00=1"],
)
def test_a_nul_in_the_query_string_is_a_400(auth_client, url):
    _error(auth_client.get(url), 400, "invalid_input")


def test_an_over_long_query_string_is_a_400(auth_client):
    _error(auth_client.get("/api/catalog/products/", {"search": "a" * 5000}), 400, "invalid_input")


def test_a_nul_in_the_idempotency_key_is_a_400(auth_client):
    response = auth_client.post(
        "/api/payments/create-from-cart/", {"gateway": "razorpay"}, format="json", HTTP_IDEMPOTENCY_KEY="k\x00"
    )
    _error(response, 400, "invalid_input")


def test_a_50000_character_email_at_sign_in_is_a_400_not_a_database_error(api_client):
    body = {"email": "a" * 50_000 + "@example.com", "password": "whatever"}
    error = _error(api_client.post("/api/auth/token/", body, format="json"), 400, "invalid_input")
    assert "email" in error["fields"]


@pytest.mark.parametrize("path", ["/api/auth/register/", "/api/auth/check-email/"])
def test_a_50000_character_email_elsewhere_is_a_400(api_client, path):
    email = "a" * 50_000 + "@example.com"
    if path.endswith("check-email/"):
        response = api_client.get(path + "?email=" + email[:3000])
    else:
        response = api_client.post(path, {"email": email, "password": "x", "full_name": "x"}, format="json")
    _error(response, 400, "invalid_input")


def test_a_nul_byte_in_a_webhook_body_is_refused_without_a_server_error(api_client):
    body = b'{"event": "payment.captured", "id": "evt_\x00"}'
    response = api_client.post("/api/payments/webhook/razorpay/", data=body, content_type="application/json")
    _error(response, 400, "malformed_request")


# --- Body size ---------------------------------------------------------------------------------------------------


def test_a_2_5_mb_webhook_body_is_a_413_in_the_error_shape(api_client):
    body = b'{"pad": "' + b"x" * (2_500_000) + b'"}'
    response = api_client.post("/api/payments/webhook/razorpay/", data=body, content_type="application/json")
    error = _error(response, 413, "payload_too_large")
    assert "262144 bytes" in error["message"]


def test_a_30_mb_body_is_refused_on_its_length_without_being_read(api_client):
    started = time.perf_counter()
    response = api_client.generic(
        "POST", "/api/auth/register/", data=b"", content_type="application/json", CONTENT_LENGTH=str(30 * 1024 * 1024)
    )
    _error(response, 413, "payload_too_large")
    assert time.perf_counter() - started < 0.5


def test_a_body_just_past_the_api_limit_is_413_and_one_within_is_parsed(api_client):
    padding = "x" * (64 * 1024)
    _error(api_client.post("/api/auth/token/", {"email": padding}, format="json"), 413, "payload_too_large")
    _error(api_client.post("/api/auth/token/", {"email": padding[:60_000]}, format="json"), 400, "invalid_input")


def test_a_content_length_that_is_not_a_number_is_a_400(api_client):
    response = api_client.generic("POST", "/api/auth/token/", data=b"{}", CONTENT_LENGTH="lots")
    _error(response, 400, "malformed_request")


def test_the_admin_form_past_djangos_upload_limit_is_a_413_in_the_error_shape(client):
    response = client.generic(
        "POST",
        "/admin/login/",
        data=b"",
        content_type="application/x-www-form-urlencoded",
        CONTENT_LENGTH=str(3 * 1024 * 1024),
    )
    _error(response, 413, "payload_too_large")


@override_settings(DATA_UPLOAD_MAX_NUMBER_FIELDS=5)
def test_djangos_own_refusals_are_in_the_error_shape(client):
    many_fields = "&".join(f"f{n}=1" for n in range(10))
    response = client.post("/admin/login/", data=many_fields, content_type="application/x-www-form-urlencoded")
    _error(response, 400, "bad_request")


def test_a_disallowed_host_is_a_400_in_the_error_shape(client):
    _error(client.get("/api/catalog/products/", HTTP_HOST="evil.example.com"), 400, "bad_request")
