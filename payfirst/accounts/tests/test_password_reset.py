"""Password reset (API.md, Accounts): 202 whatever the email, a link to the storefront's reset page by email, a
token that works once and only for its account, the password validators, the throttle."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.core import mail
from django.test import override_settings
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from payfirst.accounts.models import User
from payfirst.ops.tasks import run_queued_tasks

pytestmark = pytest.mark.django_db(transaction=True)
RESET = "/api/auth/password-reset/"
CONFIRM = "/api/auth/password-reset/confirm/"


def _ask(client, email: str):
    return client.post(RESET, {"email": email}, content_type="application/json")


def _confirm(client, **body: Any):
    return client.post(CONFIRM, body, content_type="application/json")


def _link_params(user: User, client) -> dict[str, str]:
    assert _ask(client, user.email.upper()).status_code == 202
    run_queued_tasks()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [user.email] and message.subject == "Reset your payfirst password"
    link = next(word for word in message.body.split() if word.startswith("http"))
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://shop.example.in/reset-password"
    return {name: values[0] for name, values in parse_qs(parts.query).items()}


@pytest.fixture(autouse=True)
def _storefront(settings):
    settings.FRONTEND_BASE_URL = "https://shop.example.in/"


def test_an_unknown_email_gets_the_same_answer_and_no_email(client, user):
    known, unknown = _ask(client, user.email), _ask(client, "nobody@example.com")
    assert (known.status_code, unknown.status_code) == (202, 202)
    assert known.json() == unknown.json()
    run_queued_tasks()
    assert [m.to for m in mail.outbox] == [[user.email]]


def test_the_emailed_link_sets_a_new_password_once(client, user):
    params = _link_params(user, client)
    assert set(params) == {"uid", "token"}
    response = _confirm(client, **params, new_password="lotus-pond-9137")
    assert response.status_code == 200, response.content
    user.refresh_from_db()
    assert user.check_password("lotus-pond-9137")
    signed_in = client.post(
        "/api/auth/token/", {"email": user.email, "password": "lotus-pond-9137"}, content_type="application/json"
    )
    assert signed_in.status_code == 200
    # The same link again: spent, because the password it was signed over has changed.
    again = _confirm(client, **params, new_password="another-pond-5521")
    assert again.status_code == 400 and again.json()["error"]["code"] == "invalid_token"


def test_a_weak_password_is_refused_by_the_validators_and_the_link_still_works(client, user):
    params = _link_params(user, client)
    weak = _confirm(client, **params, new_password="12345678")
    assert weak.status_code == 400
    error = weak.json()["error"]
    assert error["code"] == "invalid_input" and error["fields"]["new_password"]
    assert _confirm(client, **params, new_password="lotus-pond-9137").status_code == 200


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p, other: {**p, "token": p["token"][:-1] + ("a" if p["token"][-1] != "a" else "b")},
        lambda p, other: {**p, "uid": other},
        lambda p, other: {**p, "uid": "not-base64!"},
        lambda p, other: {**p, "uid": "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5"},  # beyond the largest id
        lambda p, other: {**p, "token": ""},
    ],
)
def test_a_wrong_token_or_uid_is_invalid_token(client, user, other_user, tamper):
    params = tamper(_link_params(user, client), urlsafe_base64_encode(force_bytes(other_user.pk)))
    response = _confirm(client, **params, new_password="lotus-pond-9137")
    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("invalid_token", "invalid_input")
    if params["token"]:
        assert response.json()["error"]["code"] == "invalid_token"
    user.refresh_from_db()
    other_user.refresh_from_db()
    assert not user.check_password("lotus-pond-9137") and not other_user.check_password("lotus-pond-9137")


def test_an_inactive_account_gets_no_email(client, user):
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert _ask(client, user.email).status_code == 202
    run_queued_tasks()
    assert mail.outbox == []


def test_asking_is_throttled_per_client(client, user):
    rates: dict[str, str] = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "password_reset": "2/hour"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        assert [_ask(client, "x@example.com").status_code for _ in range(2)] == [202, 202]
        throttled = _ask(client, user.email)
        assert throttled.status_code == 429 and throttled.json()["error"]["code"] == "throttled"
        assert 1 <= int(throttled["Retry-After"]) <= 3600
    run_queued_tasks()
    assert mail.outbox == []


def test_a_malformed_email_is_invalid_input(client):
    response = _ask(client, "not-an-email")
    assert response.status_code == 400 and response.json()["error"]["fields"]["email"]


def test_both_endpoints_are_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "/api/auth/password-reset/" in schema and "/api/auth/password-reset/confirm/" in schema
