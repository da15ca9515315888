"""The webhook outbox: delivered from the "webhooks" queue (never inside the request), signed, every attempt recorded,
non-2xx answers, timeouts and refused connections retried with exponential backoff up to a bounded number."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from sandbox.models import WebhookAttempt, WebhookDelivery
from sandbox.signing import razorpay_webhook_signature
from sandbox.webhooks import OutgoingEvent, deliver_webhook, emit, retry_delay

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def to_receiver(receiver, settings):
    settings.PAYFIRST_PUBLIC_BASE_URL = receiver.url
    settings.SANDBOX_WEBHOOK_RETRY_BASE_SECONDS = 0
    return receiver


def one_event(name: str = "payment.captured") -> list[WebhookDelivery]:
    return emit(
        gateway="razorpay", events=[OutgoingEvent(name=name, subject="pay_x", document={"event": name, "amount": 100})]
    )


def test_emit_only_enqueues_on_the_webhooks_queue(to_receiver, drain, settings):
    [delivery] = one_event()
    assert to_receiver.received == []  # nothing is sent by the code that caused the event
    task = DBTaskResult.objects.get()
    assert task.queue_name == "webhooks" and task.args_kwargs["kwargs"] == {"delivery_id": delivery.pk, "attempt": 1}
    assert drain() == 1
    [sent] = to_receiver.received
    assert sent.path == "/api/payments/webhook/razorpay/" and sent.body == delivery.body.encode()
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["X-Razorpay-Event-Id"] == delivery.event_id
    assert sent.headers["X-Razorpay-Signature"] == razorpay_webhook_signature(
        webhook_secret=settings.RAZORPAY_WEBHOOK_SECRET, body=sent.body
    )
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (WebhookDelivery.State.DELIVERED, 1)
    assert list(delivery.attempt_log.values_list("number", "status_code", "error")) == [(1, 200, "")]


def test_emit_inside_a_rolled_back_transaction_leaves_nothing(to_receiver, drain):
    with pytest.raises(RuntimeError), transaction.atomic():
        one_event()
        raise RuntimeError("the change that caused the event failed")
    assert not WebhookDelivery.objects.exists() and not DBTaskResult.objects.exists()
    assert drain() == 0


def test_non_2xx_answers_are_retried_until_delivered(to_receiver, drain):
    to_receiver.statuses = [500, 404]
    [delivery] = one_event()
    drain()
    delivery.refresh_from_db()
    assert delivery.state == WebhookDelivery.State.DELIVERED and delivery.attempts == 3
    assert list(delivery.attempt_log.values_list("number", "status_code", "error")) == [
        (1, 500, "HTTP 500"),
        (2, 404, "HTTP 404"),
        (3, 200, ""),
    ]
    assert len({item.body for item in to_receiver.received}) == 1
    assert len({item.headers["X-Razorpay-Event-Id"] for item in to_receiver.received}) == 1


def test_attempts_are_bounded(to_receiver, drain, settings):
    settings.SANDBOX_WEBHOOK_MAX_ATTEMPTS = 3
    to_receiver.statuses = [503] * 10
    [delivery] = one_event()
    drain()
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (WebhookDelivery.State.FAILED, 3)
    assert len(to_receiver.received) == 3 and WebhookAttempt.objects.count() == 3


def test_retries_back_off_exponentially(to_receiver, drain, settings):
    settings.SANDBOX_WEBHOOK_RETRY_BASE_SECONDS = 5
    assert [retry_delay(n) for n in (1, 2, 3)] == [timedelta(seconds=5), timedelta(seconds=10), timedelta(seconds=20)]
    to_receiver.statuses = [500, 500]
    [delivery] = one_event()
    drain()
    delivery.refresh_from_db()
    first_wait = delivery.next_attempt_at - delivery.attempt_log.get(number=1).started_at
    assert delivery.attempts == 1 and timedelta(seconds=5) <= first_wait < timedelta(seconds=7)
    assert drain() == 0  # the retry is not due yet
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())  # five seconds pass
    drain()
    delivery.refresh_from_db()
    second_wait = delivery.next_attempt_at - delivery.attempt_log.get(number=2).started_at
    assert delivery.attempts == 2 and timedelta(seconds=10) <= second_wait < timedelta(seconds=12)


def test_a_slow_endpoint_times_out_and_is_retried(to_receiver, drain, settings):
    settings.SANDBOX_WEBHOOK_TIMEOUT_SECONDS = 0.3
    settings.SANDBOX_WEBHOOK_RETRY_BASE_SECONDS = 60
    to_receiver.hold = threading.Event()
    [delivery] = one_event()
    drain()
    attempt = WebhookAttempt.objects.get()
    assert attempt.error == "timed out" and attempt.status_code is None and attempt.duration_ms < 3000
    to_receiver.hold.set()
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    drain()
    delivery.refresh_from_db()
    assert delivery.state == WebhookDelivery.State.DELIVERED and delivery.attempts == 2


def test_a_refused_connection_is_recorded_and_retried(settings, drain):
    settings.PAYFIRST_PUBLIC_BASE_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    settings.SANDBOX_WEBHOOK_RETRY_BASE_SECONDS = 60
    [delivery] = one_event()
    drain()
    attempt = WebhookAttempt.objects.get()
    assert attempt.error.startswith("connection failed") and attempt.status_code is None
    delivery.refresh_from_db()
    assert delivery.state == WebhookDelivery.State.PENDING and delivery.next_attempt_at is not None


def test_a_task_that_runs_twice_sends_once(to_receiver):
    [delivery] = one_event()
    assert deliver_webhook.call(delivery_id=delivery.pk, attempt=1) == "delivered"
    assert deliver_webhook.call(delivery_id=delivery.pk, attempt=1) == "stale"
    assert len(to_receiver.received) == 1


def test_phonepe_callbacks_carry_the_static_authorization(to_receiver, drain, settings):
    settings.PHONEPE_WEBHOOK_USERNAME, settings.PHONEPE_WEBHOOK_PASSWORD = "username", "password"
    emit(
        gateway="phonepe",
        events=[
            OutgoingEvent(
                name="checkout.order.completed", subject="MO1", document={"event": "checkout.order.completed"}
            )
        ],
    )
    drain()
    [sent] = to_receiver.received
    assert sent.path == "/api/payments/webhook/phonepe/"
    # GATEWAYS.md 2.7's test vector for "username:password".
    assert sent.headers["Authorization"] == "bc842c31a9e54efe320d30d948be61291f3ceee4766e36ab25fa65243cd76e0e"
    assert json.loads(sent.body) == {"event": "checkout.order.completed"}
    assert "X-Razorpay-Signature" not in sent.headers
