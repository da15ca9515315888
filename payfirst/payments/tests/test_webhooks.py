"""Webhook intake over HTTP: verified on raw bytes, stored, deduplicated and queued at once (no gateway call in the
request); the worker processes through sync_payment and retries a failure on its own schedule, never the gateway."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from payfirst.fulfilment.models import Booking
from payfirst.gateways.base import EventKind, GatewayStatus, GatewayUnavailable
from payfirst.notifications.models import Notification, NotificationStatus
from payfirst.ops.tasks import run_queued_tasks
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
    sent = {name: value for name, value in headers.items() if name != "Content-Type"}
    return client.post(URL, body, content_type="application/json", headers=sent)  # the raw bytes, as sent


def test_webhook_for_a_captured_payment_is_processed_and_fulfils(pending, fake_razorpay):
    fake_razorpay.settle(pending.gateway_order_id)
    response = deliver(
        *fake_razorpay.webhook(event_id="evt_1", name="payment.captured", gateway_order_id=pending.gateway_order_id)
    )
    assert (response.status_code, response.json()) == (200, {"status": "queued"})
    assert fake_razorpay.calls["fetch_payment"] == 0 and Payment.objects.get().status == S.PENDING  # not in the request
    assert run_queued_tasks() == 2  # the delivery's processing, then the e-mail its capture queued
    pending.refresh_from_db()
    assert pending.status == S.CAPTURED and Booking.objects.filter(payment=pending).count() == 1
    assert Notification.objects.get().status == NotificationStatus.SENT
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
    assert deliver(*delivery).json() == {"status": "queued"}
    run_queued_tasks()
    fetches = fake_razorpay.calls["fetch_payment"]
    events = PaymentEvent.objects.count()
    for _ in range(3):
        assert deliver(*delivery).json() == {"status": "duplicate"}
    assert run_queued_tasks() == 0
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
    assert run_queued_tasks() == 0


def test_a_forged_delivery_is_counted_and_only_its_first_bytes_are_kept(pending, fake_razorpay):
    from payfirst.payments.webhooks import UNTRUSTED_BODY_CHARS, WEBHOOKS_RECEIVED

    counted = WEBHOOKS_RECEIVED.labels("razorpay", "invalid_signature")
    before = counted._value.get()
    body = b'{"junk": "' + b"x" * 200_000 + b'"}'
    response = deliver({"X-Fake-Signature": "0" * 64}, body)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_signature"
    record = WebhookEvent.objects.get()
    assert len(record.body) == UNTRUSTED_BODY_CHARS and record.body_size == len(body)
    assert counted._value.get() == before + 1


def test_a_forged_delivery_does_not_block_the_genuine_one_with_the_same_event_id(pending, fake_razorpay):
    fake_razorpay.settle(pending.gateway_order_id)
    headers, body = fake_razorpay.webhook(
        event_id="evt_same", name="payment.captured", gateway_order_id=pending.gateway_order_id
    )
    assert deliver(dict(headers, **{"X-Fake-Signature": "f" * 64}), body).status_code == 400
    assert deliver(headers, body).json() == {"status": "queued"}
    run_queued_tasks()
    assert Payment.objects.get().status == S.CAPTURED


def test_unknown_and_refund_events_are_stored_and_ignored(pending, fake_razorpay):
    other = fake_razorpay.webhook(event_id="evt_o", name="settlement.processed", kind=EventKind.OTHER)
    refund = fake_razorpay.webhook(
        event_id="evt_r", name="refund.processed", kind=EventKind.REFUND, gateway_order_id=pending.gateway_order_id
    )
    unknown_order = fake_razorpay.webhook(event_id="evt_u", name="payment.captured", gateway_order_id="order_nope")
    assert deliver(*other).json() == {"status": "ignored"}  # known at intake: nothing to queue
    for delivery in (refund, unknown_order):
        assert deliver(*delivery).json() == {"status": "queued"}
    run_queued_tasks()
    assert Payment.objects.get().status == S.PENDING
    assert WebhookEvent.objects.filter(outcome="ignored").count() == 3


def test_failed_after_captured_changes_nothing_and_captured_after_failed_is_a_capture(pending, fake_razorpay):
    def deliver_and_work(event_id: str, name: str) -> None:
        deliver(*fake_razorpay.webhook(event_id=event_id, name=name, gateway_order_id=pending.gateway_order_id))
        run_queued_tasks()

    fake_razorpay.settle(pending.gateway_order_id, GatewayStatus.FAILED)
    deliver_and_work("e1", "payment.failed")
    assert Payment.objects.get().status in (S.FAILED, S.PENDING)  # late authorisation may keep it open
    fake_razorpay.settle(pending.gateway_order_id, GatewayStatus.CAPTURED)
    deliver_and_work("e2", "payment.captured")
    assert Payment.objects.get().status == S.CAPTURED and Booking.objects.count() == 1
    # A stale "failed" delivered late: the status API says captured, and nothing moves backwards either way.
    deliver_and_work("e1b", "payment.failed")
    fake_razorpay.settle(pending.gateway_order_id, GatewayStatus.FAILED)
    deliver_and_work("e1c", "payment.failed")
    assert Payment.objects.get().status == S.CAPTURED and Booking.objects.count() == 1


def test_a_processing_error_never_reaches_the_gateway_and_the_worker_retries_with_backoff(pending, fake_razorpay):
    fake_razorpay.settle(pending.gateway_order_id)
    delivery = fake_razorpay.webhook(
        event_id="evt_err", name="payment.captured", gateway_order_id=pending.gateway_order_id
    )
    fake_razorpay.fail_next("fetch_payment", GatewayUnavailable("status API down"))
    assert deliver(*delivery).json() == {"status": "queued"}
    run_queued_tasks()
    first = WebhookEvent.objects.get()
    assert (first.outcome, first.attempts) == (WebhookOutcome.ERROR, 1) and "status API down" in first.error
    assert first.next_attempt_at is not None and first.next_attempt_at > first.received_at
    assert Payment.objects.get().status == S.PENDING
    # The gateway delivers it again: a duplicate, and the waiting retry of the first delivery is due at once.
    assert deliver(*delivery).json() == {"status": "duplicate"}
    run_queued_tasks()
    first.refresh_from_db()
    assert first.outcome == WebhookOutcome.PROCESSED and Payment.objects.get().status == S.CAPTURED
    assert Booking.objects.count() == 1


def test_the_backoff_doubles_and_is_capped(settings):
    from datetime import timedelta

    from payfirst.payments.webhooks import backoff

    settings.WEBHOOK_RETRY_BASE_SECONDS, settings.WEBHOOK_RETRY_MAX_SECONDS = 30, 600
    assert [backoff(n).total_seconds() for n in range(1, 8)] == [30, 60, 120, 240, 480, 600, 600]
    assert backoff(50) == timedelta(seconds=600)


def test_an_event_that_keeps_failing_is_kept_and_raises_an_alarm(pending, fake_razorpay, settings, caplog):
    from datetime import timedelta

    from payfirst.payments.webhooks import WEBHOOK_ALARMS, process_due_webhooks

    settings.WEBHOOK_MAX_ATTEMPTS = 3
    alarms_before = WEBHOOK_ALARMS.labels("razorpay")._value.get()
    fake_razorpay.settle(pending.gateway_order_id)
    delivery = fake_razorpay.webhook(
        event_id="evt_bad", name="payment.captured", gateway_order_id=pending.gateway_order_id
    )
    fake_razorpay.fail_next("fetch_payment", GatewayUnavailable("down"), times=3)
    assert deliver(*delivery).json() == {"status": "queued"}
    run_queued_tasks()
    record = WebhookEvent.objects.get()
    for _ in range(2):
        record.refresh_from_db()
        process_due_webhooks(now=record.next_attempt_at)
    record.refresh_from_db()
    assert (record.outcome, record.attempts, record.next_attempt_at) == (WebhookOutcome.FAILED, 3, None)
    assert WEBHOOK_ALARMS.labels("razorpay")._value.get() == alarms_before + 1
    assert any("ALARM webhook" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
    assert process_due_webhooks(now=record.received_at + timedelta(days=1)) == {}
    # Kept for a person: the admin shows it, and re-driving it by hand processes it.
    assert redrive_webhook(webhook_event_id=record.pk) == "processed"
    assert Payment.objects.get().status == S.CAPTURED


def test_a_queued_delivery_whose_task_was_lost_is_processed_by_the_periodic_redrive(pending, fake_razorpay):
    from datetime import timedelta

    from django_tasks_db.models import DBTaskResult

    from payfirst.payments.webhooks import process_due_webhooks

    fake_razorpay.settle(pending.gateway_order_id)
    deliver(
        *fake_razorpay.webhook(event_id="evt_l", name="payment.captured", gateway_order_id=pending.gateway_order_id)
    )
    DBTaskResult.objects.all().delete()  # the worker died holding it
    record = WebhookEvent.objects.get()
    assert process_due_webhooks(now=record.received_at + timedelta(seconds=5)) == {}  # within the grace period
    assert process_due_webhooks(now=record.received_at + timedelta(minutes=5)) == {WebhookOutcome.PROCESSED: 1}
    assert Payment.objects.get().status == S.CAPTURED


def test_redrive_processes_a_stored_delivery_again(pending, fake_razorpay):
    delivery = fake_razorpay.webhook(
        event_id="evt_rd", name="payment.captured", gateway_order_id=pending.gateway_order_id
    )
    fake_razorpay.fail_next("fetch_payment", GatewayUnavailable("down"))
    assert deliver(*delivery).status_code == 200
    run_queued_tasks()
    fake_razorpay.settle(pending.gateway_order_id)
    assert redrive_webhook(webhook_event_id=WebhookEvent.objects.get().pk) == "processed"
    assert Payment.objects.get().status == S.CAPTURED


def test_a_body_over_the_cap_is_413_and_not_stored(pending, fake_razorpay, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1000
    headers, _ = fake_razorpay.webhook(event_id="evt_big", name="payment.captured", gateway_order_id="x")
    response = deliver(headers, b"{" + b" " * 2000 + b"}")
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"
    assert not WebhookEvent.objects.exists()


def test_a_source_sending_forged_deliveries_is_throttled_and_genuine_ones_are_not_counted(
    pending, fake_razorpay, settings
):
    from django.core.cache import cache

    cache.clear()
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"webhooks": "3/minute"}}
    fake_razorpay.settle(pending.gateway_order_id)
    try:
        genuine = [
            deliver(
                *fake_razorpay.webhook(
                    event_id=f"evt_ok{n}", name="payment.captured", gateway_order_id=pending.gateway_order_id
                )
            ).status_code
            for n in range(5)
        ]
        forged = [deliver({"X-Fake-Signature": "0" * 64}, b"{}") for _ in range(5)]
        after = deliver(*fake_razorpay.webhook(event_id="evt_late", name="payment.captured", gateway_order_id="x"))
    finally:
        cache.clear()
    assert genuine == [200] * 5  # a gateway's burst is never counted
    assert [response.status_code for response in forged] == [400, 400, 400, 429, 429]
    assert forged[3].json()["error"]["code"] == "throttled" and int(forged[3]["Retry-After"]) >= 1
    assert after.status_code == 429  # the source stays refused until the window ends
    assert WebhookEvent.objects.filter(outcome="invalid_signature").count() == 3


def test_credential_headers_are_not_stored(pending, fake_razorpay):
    headers, body = fake_razorpay.webhook(
        event_id="evt_h", name="payment.captured", gateway_order_id=pending.gateway_order_id
    )
    deliver(dict(headers, Authorization="static-credential"), body)
    stored = WebhookEvent.objects.get().headers
    assert stored["Authorization"] == "<redacted>" and "static-credential" not in str(stored)


def test_retention_deletes_only_old_deliveries_that_are_done_with(pending, fake_razorpay, settings):
    from datetime import timedelta
    from io import StringIO

    from django.core.management import call_command
    from django.utils import timezone

    from payfirst.ops.tasks import periodic_tasks

    settings.WEBHOOK_RETENTION_DAYS = 30
    old = timezone.now() - timedelta(days=31)
    for number, outcome in enumerate(WebhookOutcome.values):
        record = WebhookEvent.objects.create(gateway="razorpay", body="{}", outcome=outcome, event_id=f"e{number}")
        WebhookEvent.objects.filter(pk=record.pk).update(received_at=old)
    fresh = WebhookEvent.objects.create(gateway="razorpay", body="{}", outcome=WebhookOutcome.PROCESSED)
    out = StringIO()
    call_command("purge_webhooks", stdout=out)
    assert "Deleted 4 webhook deliveries" in out.getvalue()
    kept = set(WebhookEvent.objects.values_list("outcome", flat=True))
    assert kept == {"received", "queued", "error", "failed", "processed"}
    assert WebhookEvent.objects.filter(outcome="processed").get() == fresh
    name = "payfirst.payments.webhooks.purge_webhook_events_task"
    assert periodic_tasks()[name].every == timedelta(hours=6)


@pytest.mark.django_db(transaction=True)
def test_a_queued_webhook_is_processed_before_an_email_queued_earlier(user):
    """Under a burst the worker captures and fulfils first; the e-mails it owes wait their turn."""
    from django.db import transaction
    from django_tasks_db.models import DBTaskResult

    from payfirst.notifications.models import NotificationKind
    from payfirst.notifications.services import notify, send_notification_task
    from payfirst.payments.webhooks import process_webhook_task
    from payfirst.testing.workers import task_worker

    with transaction.atomic():
        notify(key="booking-cancelled:1", kind=NotificationKind.BOOKING_CANCELLED, user_id=user.pk, context={})
    process_webhook_task.enqueue(webhook_event_id=1)
    assert DBTaskResult.objects.count() == 2
    worker = task_worker(queue_names=["default"])
    claimed = [worker.claim_next(), worker.claim_next()]
    assert [task.task_path for task in claimed if task is not None] == [
        process_webhook_task.module_path,
        send_notification_task.module_path,
    ]
