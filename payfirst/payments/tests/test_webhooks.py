"""Webhook intake over HTTP: stored first, verified on raw bytes, deduplicated, processed through sync_payment,
and a processing error answered non-2xx so that the gateway delivers again."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from payfirst.fulfilment.models import Booking
from payfirst.gateways.base import EventKind, GatewayStatus, GatewayUnavailable
from payfirst.payments.models import Payment, PaymentEvent, WebhookEvent, WebhookOutcome
from payfirst.payments.states import PaymentStatus
from payfirst.payments.webhooks import redrive_webhook

S = PaymentStatus
pytestmark = pytest.mark.django_db
URL = "/api/payments/webhook/razorpay/"


@pytest.fixture
def pending(user, address, mixed_cart, fake_razorpay) -> Payment:
    from payfirst.payments.services import create_payment_for_cart

    return create_payment_for_cart(user=user, gateway="razorpay", shipping_address_id=address.pk).payment


def deliver(headers: dict[str, str], body: bytes):
    # CSRF enforced as a browser would: webhooks must not depend on a CSRF token.
    client = APIClient(enforce_csrf_checks=True)
    extra = {
        f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items() if name != "Content-Type"
    }
    return client.generic("POST", URL, body, content_type="application/json", **extra)


def test_webhook_for_a_captured_payment_is_processed_and_fulfils(pending, fake_razorpay):
    fake_razorpay.settle(pending.gateway_order_id)
    response = deliver(
        *fake_razorpay.webhook(event_id="evt_1", name="payment.captured", gateway_order_id=pending.gateway_order_id)
    )
    assert (response.status_code, response.json()) == (200, {"status": "processed"})
    pending.refresh_from_db()
    assert pending.status == S.CAPTURED and Booking.objects.filter(payment=pending).count() == 1
    record = WebhookEvent.objects.get()
    assert (record.is_verified, record.is_claimed, record.event_id, record.outcome, record.payment_id) == (
        True,
        True,
        "evt_1",
        WebhookOutcome.PROCESSED,
        pending.pk,
    )
    assert record.processed_at is not None and '"payment.captured"' in record.body
    assert pending.events.last().source == "webhook"


def test_duplicate_webhook_answers_duplicate_and_changes_nothing(pending, fake_razorpay):
    fake_razorpay.settle(pending.gateway_order_id)
    delivery = fake_razorpay.webhook(
        event_id="evt_dup", name="payment.captured", gateway_order_id=pending.gateway_order_id
    )
    assert deliver(*delivery).json() == {"status": "processed"}
    fetches = fake_razorpay.calls["fetch_payment"]
    events = PaymentEvent.objects.count()
    for _ in range(3):
        assert deliver(*delivery).json() == {"status": "duplicate"}
    assert fake_razorpay.calls["fetch_payment"] == fetches and PaymentEvent.objects.count() == events
    assert list(WebhookEvent.objects.order_by("pk").values_list("outcome", flat=True)) == [
        "processed",
        "duplicate",
        "duplicate",
        "duplicate",
    ]
    assert Booking.objects.count() == 1


def test_forged_webhook_is_400_and_changes_nothing(pending, fake_razorpay):
    fake_razorpay.settle(pending.gateway_order_id)
    headers, body = fake_razorpay.webhook(
        event_id="evt_f", name="payment.captured", gateway_order_id=pending.gateway_order_id
    )
    forged = dict(headers, **{"X-Fake-Signature": "0" * 64})
    response = deliver(forged, body)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_signature"
    changed_body = body.replace(b"payment.captured", b"payment.capturedX")
    assert deliver(headers, changed_body).status_code == 400
    unsigned = {key: value for key, value in headers.items() if key != "X-Fake-Signature"}
    assert deliver(unsigned, body).status_code == 400
    pending.refresh_from_db()
    assert pending.status == S.PENDING and fake_razorpay.calls["fetch_payment"] == 0
    assert not Booking.objects.exists()
    records = WebhookEvent.objects.all()
    assert records.count() == 3
    assert {(r.outcome, r.is_verified, r.is_claimed) for r in records} == {("invalid_signature", False, False)}


def test_a_forged_delivery_does_not_block_the_genuine_one_with_the_same_event_id(pending, fake_razorpay):
    fake_razorpay.settle(pending.gateway_order_id)
    headers, body = fake_razorpay.webhook(
        event_id="evt_same", name="payment.captured", gateway_order_id=pending.gateway_order_id
    )
    assert deliver(dict(headers, **{"X-Fake-Signature": "f" * 64}), body).status_code == 400
    assert deliver(headers, body).json() == {"status": "processed"}


def test_unknown_and_refund_events_are_stored_and_ignored(pending, fake_razorpay):
    other = fake_razorpay.webhook(event_id="evt_o", name="settlement.processed", kind=EventKind.OTHER)
    refund = fake_razorpay.webhook(
        event_id="evt_r", name="refund.processed", kind=EventKind.REFUND, gateway_order_id=pending.gateway_order_id
    )
    unknown_order = fake_razorpay.webhook(event_id="evt_u", name="payment.captured", gateway_order_id="order_nope")
    for delivery in (other, refund, unknown_order):
        assert deliver(*delivery).json() == {"status": "ignored"}
    assert Payment.objects.get().status == S.PENDING
    assert WebhookEvent.objects.filter(outcome="ignored").count() == 3


def test_failed_after_captured_changes_nothing_and_captured_after_failed_is_a_capture(pending, fake_razorpay):
    fake_razorpay.settle(pending.gateway_order_id, GatewayStatus.FAILED)
    deliver(*fake_razorpay.webhook(event_id="e1", name="payment.failed", gateway_order_id=pending.gateway_order_id))
    assert Payment.objects.get().status == S.FAILED
    fake_razorpay.settle(pending.gateway_order_id, GatewayStatus.CAPTURED)
    deliver(*fake_razorpay.webhook(event_id="e2", name="payment.captured", gateway_order_id=pending.gateway_order_id))
    assert Payment.objects.get().status == S.CAPTURED and Booking.objects.count() == 1
    # A stale "failed" delivered late: the status API says captured, and nothing moves backwards either way.
    deliver(*fake_razorpay.webhook(event_id="e1b", name="payment.failed", gateway_order_id=pending.gateway_order_id))
    fake_razorpay.settle(pending.gateway_order_id, GatewayStatus.FAILED)
    deliver(*fake_razorpay.webhook(event_id="e1c", name="payment.failed", gateway_order_id=pending.gateway_order_id))
    assert Payment.objects.get().status == S.CAPTURED and Booking.objects.count() == 1


def test_processing_error_answers_502_and_the_redelivery_is_processed_not_duplicate(pending, fake_razorpay):
    fake_razorpay.settle(pending.gateway_order_id)
    delivery = fake_razorpay.webhook(
        event_id="evt_err", name="payment.captured", gateway_order_id=pending.gateway_order_id
    )
    fake_razorpay.fail_next("fetch_payment", GatewayUnavailable("status API down"))
    response = deliver(*delivery)
    assert response.status_code == 502 and response.json()["error"]["code"] == "gateway_error"
    first = WebhookEvent.objects.get()
    assert first.outcome == WebhookOutcome.ERROR and "status API down" in first.error
    assert Payment.objects.get().status == S.PENDING
    assert deliver(*delivery).json() == {"status": "processed"}
    assert Payment.objects.get().status == S.CAPTURED
    assert deliver(*delivery).json() == {"status": "duplicate"}
    first.refresh_from_db()
    assert first.outcome == WebhookOutcome.PROCESSED and "status API down" in first.error  # the history stays
    assert Booking.objects.count() == 1


def test_redrive_processes_a_stored_delivery_again(pending, fake_razorpay):
    delivery = fake_razorpay.webhook(
        event_id="evt_rd", name="payment.captured", gateway_order_id=pending.gateway_order_id
    )
    fake_razorpay.fail_next("fetch_payment", GatewayUnavailable("down"))
    assert deliver(*delivery).status_code == 502
    fake_razorpay.settle(pending.gateway_order_id)
    assert redrive_webhook(webhook_event_id=WebhookEvent.objects.get().pk) == "processed"
    assert Payment.objects.get().status == S.CAPTURED


def test_credential_headers_are_not_stored(pending, fake_razorpay):
    headers, body = fake_razorpay.webhook(
        event_id="evt_h", name="payment.captured", gateway_order_id=pending.gateway_order_id
    )
    deliver(dict(headers, Authorization="static-credential"), body)
    stored = WebhookEvent.objects.get().headers
    assert stored["Authorization"] == "<redacted>" and "static-credential" not in str(stored)
