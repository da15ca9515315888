"""Throttling of the public sign-up, sign-in and email-check endpoints, and CORS for browser front ends."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

pytestmark = pytest.mark.django_db

ALLOWED_ORIGIN = "https://shop.example.in"


def _rates(**rates: str) -> dict[str, Any]:
    return {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


def _register(client, n: int = 0, **extra: Any):
    return client.post(
        "/api/auth/register/",
        {"email": f"person{n}@example.com", "password": "saffron-kite-4821", "full_name": f"Person {n}"},
        content_type="application/json",
        **extra,
    )


def _token(client, n: int = 0, **extra: Any):
    return client.post(
        "/api/auth/token/", {"email": "asha@example.com", "password": "wrong"}, content_type="application/json", **extra
    )


def _check_email(client, n: int = 0, **extra: Any):
    return client.get("/api/auth/check-email/", {"email": "someone@example.com"}, **extra)


def _assert_throttled(response: Any, window_seconds: int) -> None:
    assert response.status_code == 429, response.content
    error = response.json()["error"]
    assert error["code"] == "throttled" and set(error) == {"code", "message"}
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= window_seconds
    assert f"{retry_after} seconds" in error["message"]


@pytest.mark.parametrize(
    "scope, call, first_status",
    [("register", _register, 201), ("token", _token, 401), ("check_email", _check_email, 200)],
)
def test_each_public_endpoint_answers_429_with_retry_after_past_its_rate(client, user, scope, call, first_status):
    with override_settings(REST_FRAMEWORK=_rates(**{scope: "2/minute"})):
        assert [call(client, n).status_code for n in (1, 2)] == [first_status] * 2
        _assert_throttled(call(client, 3), 60)


def test_the_rate_comes_from_settings_so_a_higher_rate_lets_more_through(client):
    with override_settings(REST_FRAMEWORK=_rates(check_email="5/hour")):
        assert [_check_email(client).status_code for _ in range(5)] == [200] * 5
        _assert_throttled(_check_email(client), 3600)


def test_scopes_are_counted_separately(client, user):
    with override_settings(REST_FRAMEWORK=_rates(check_email="1/minute", token="1/minute")):
        assert _check_email(client).status_code == 200
        assert _check_email(client).status_code == 429
        assert _token(client).status_code == 401  # sign-in still has its own allowance


def test_a_forged_x_forwarded_for_does_not_escape_the_throttle(client):
    with override_settings(REST_FRAMEWORK=_rates(check_email="1/minute")):
        assert _check_email(client, HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 200
        _assert_throttled(_check_email(client, HTTP_X_FORWARDED_FOR="203.0.113.2"), 60)


def test_clients_at_different_addresses_have_their_own_allowance(client):
    with override_settings(REST_FRAMEWORK=_rates(check_email="1/minute")):
        assert _check_email(client, REMOTE_ADDR="198.51.100.7").status_code == 200
        assert _check_email(client, REMOTE_ADDR="198.51.100.7").status_code == 429
        assert _check_email(client, REMOTE_ADDR="198.51.100.8").status_code == 200


def test_signed_in_endpoints_are_not_throttled_by_the_public_scopes(auth_client):
    with override_settings(REST_FRAMEWORK=_rates(register="1/minute", token="1/minute", check_email="1/minute")):
        assert [auth_client.get("/api/auth/profile/").status_code for _ in range(3)] == [200] * 3


# --- CORS --------------------------------------------------------------------------------------------------------


@override_settings(CORS_ALLOWED_ORIGINS=[ALLOWED_ORIGIN])
def test_an_allowed_origin_gets_cors_headers_and_another_does_not(client):
    allowed = _check_email(client, HTTP_ORIGIN=ALLOWED_ORIGIN)
    assert allowed.status_code == 200
    assert allowed["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    exposed = {h.strip().lower() for h in allowed["Access-Control-Expose-Headers"].split(",")}
    assert {"x-request-id", "retry-after"} <= exposed

    other = _check_email(client, HTTP_ORIGIN="https://evil.example.com")
    assert other.status_code == 200
    assert "Access-Control-Allow-Origin" not in other
    assert "Access-Control-Expose-Headers" not in other


@override_settings(CORS_ALLOWED_ORIGINS=[ALLOWED_ORIGIN])
def test_a_preflight_from_an_allowed_origin_may_send_a_bearer_token_as_json(client):
    preflight = client.options(
        "/api/auth/profile/",
        HTTP_ORIGIN=ALLOWED_ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="PATCH",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )
    assert preflight.status_code == 200
    assert preflight["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "PATCH" in preflight["Access-Control-Allow-Methods"]
    allowed_headers = {h.strip().lower() for h in preflight["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed_headers

    refused = client.options(
        "/api/auth/profile/", HTTP_ORIGIN="https://evil.example.com", HTTP_ACCESS_CONTROL_REQUEST_METHOD="PATCH"
    )
    assert "Access-Control-Allow-Origin" not in refused


@override_settings(CORS_ALLOWED_ORIGINS=[ALLOWED_ORIGIN])
def test_a_throttled_answer_still_carries_cors_headers_so_the_browser_can_read_retry_after(client):
    with override_settings(REST_FRAMEWORK=_rates(check_email="1/minute")):
        _check_email(client, HTTP_ORIGIN=ALLOWED_ORIGIN)
        throttled = _check_email(client, HTTP_ORIGIN=ALLOWED_ORIGIN)
    _assert_throttled(throttled, 60)
    assert throttled["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
