"""No secret reaches Sentry: the events the SDK would send for a failing task and a failing request, captured by a
transport that keeps them, hold no gateway secret (not in frame variables, which are off, nor in messages, headers,
cookies or breadcrumbs)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import sentry_sdk
from django.test import Client
from django_tasks import task
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from payfirst.core.logging import FILTERED, init_sentry, scrub
from payfirst.ops.tasks import run_queued_tasks

pytestmark = pytest.mark.django_db

PHONEPE_SECRET = "pp-client-secret-9f8e7d6c5b4a"
RAZORPAY_SECRET = "rzp-key-secret-1a2b3c4d5e6f"
WEBHOOK_SECRET = "rzp-webhook-secret-0a9b8c7d"
BEARER = "eyJhbGciOiJIUzI1NiJ9.bearer-token-value"
SECRETS = (PHONEPE_SECRET, RAZORPAY_SECRET, WEBHOOK_SECRET, BEARER)


class CapturingTransport(Transport):
    """Keeps every envelope the SDK hands its transport instead of sending it."""

    sent: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        CapturingTransport.sent.append(envelope)


@pytest.fixture
def sent(settings) -> Any:
    settings.PHONEPE_CLIENT_SECRET = PHONEPE_SECRET
    settings.RAZORPAY_KEY_SECRET = RAZORPAY_SECRET
    settings.RAZORPAY_WEBHOOK_SECRET = WEBHOOK_SECRET
    CapturingTransport.sent = []
    init_sentry(
        dsn="https://public@sentry.invalid/1", environment="test", traces_sample_rate=0, transport=CapturingTransport
    )
    try:
        yield CapturingTransport.sent
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()  # no DSN: the SDK is off again for the rest of the suite


def events(envelopes: list[Envelope]) -> list[dict[str, Any]]:
    found = []
    for envelope in envelopes:
        for item in envelope.items:
            if item.type == "event" and item.payload.json is not None:
                found.append(item.payload.json)
    return found


def assert_nothing_secret(envelopes: list[Envelope]) -> list[dict[str, Any]]:
    wire = b"".join(envelope.serialize() for envelope in envelopes)
    for secret in SECRETS:
        assert secret.encode() not in wire, secret
    found = events(envelopes)
    for event in found:
        for value in (event.get("exception") or {}).get("values", []):
            for frame in (value.get("stacktrace") or {}).get("frames", []):
                assert "vars" not in frame, frame.get("function")
    return found


@task()
def leaky_gateway_task() -> None:
    """Fails the way a gateway call fails, with the credentials in its frame and in its message."""
    client_secret = PHONEPE_SECRET
    key_secret = RAZORPAY_SECRET
    raise RuntimeError(f"token request refused for client_secret={client_secret} (razorpay {key_secret})")


def test_a_failing_task_sends_no_secret(sent):
    leaky_gateway_task.enqueue()
    assert run_queued_tasks() == 1
    found = assert_nothing_secret(sent)
    assert found, "the failing task produced no Sentry event: this test would prove nothing"
    messages = json.dumps(found)
    assert "RuntimeError" in messages and FILTERED in messages


def test_a_failing_request_sends_no_secret(sent, monkeypatch):
    def explode(*, payment_id: int, token: str) -> None:
        client_secret = PHONEPE_SECRET  # as a gateway adapter's frame would hold it
        raise RuntimeError(f"status call failed with secret {client_secret} and {WEBHOOK_SECRET}")

    monkeypatch.setattr("payfirst.payments.apis.returns.return_from_phonepe", explode)
    response = Client(raise_request_exception=False).get(
        "/api/payments/redirect/phonepe/?payment_id=1&token=abc",
        HTTP_AUTHORIZATION=f"Bearer {BEARER}",
        HTTP_COOKIE=f"sessionid={BEARER}",
        HTTP_X_RAZORPAY_SIGNATURE=WEBHOOK_SECRET,
    )
    assert response.status_code == 500
    found = assert_nothing_secret(sent)
    assert found, "the failing request produced no Sentry event: this test would prove nothing"
    assert "RuntimeError" in json.dumps(found) and FILTERED in json.dumps(found)


def test_breadcrumbs_carry_no_secret(sent):
    logging.getLogger("payfirst.gateways").info("calling PhonePe with %s", PHONEPE_SECRET)
    logging.getLogger("payfirst.payments").error("refund failed")
    found = assert_nothing_secret(sent)
    crumbs = [crumb for event in found for crumb in (event.get("breadcrumbs") or {}).get("values", [])]
    assert any(FILTERED in json.dumps(crumb) for crumb in crumbs), crumbs


def test_scrub_replaces_secret_values_at_any_depth():
    event = {"a": [{"b": f"x{RAZORPAY_SECRET}y"}, ("t", RAZORPAY_SECRET)], "n": 3}
    assert scrub(event, secrets=[RAZORPAY_SECRET]) == {"a": [{"b": f"x{FILTERED}y"}, ["t", FILTERED]], "n": 3}
