"""The sandbox's webhook outbox: `emit` records each event (applying armed webhook faults) and enqueues its delivery;
`deliver_webhook`, a task on the "webhooks" queue, POSTs the exact bytes, signed as the gateway signs them, records
every attempt, and retries non-2xx answers and timeouts with exponential backoff up to a bounded number of attempts."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from payfirst.gateways.sandbox import ids
from payfirst.gateways.sandbox.faults import take_fault
from payfirst.gateways.sandbox.models import Fault, WebhookAttempt, WebhookDelivery
from payfirst.gateways.sandbox.signing import phonepe_callback_authorization, razorpay_webhook_signature

logger = logging.getLogger(__name__)

# Razorpay expects an answer within 5 s; PhonePe within 3-5 s.
DEFAULT_TIMEOUT_SECONDS = 5.0
DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_RETRY_BASE_SECONDS = 5.0


@dataclass(frozen=True)
class OutgoingEvent:
    name: str  # "payment.captured", "checkout.order.completed", ...
    subject: str  # the id the event is about (payment, order or refund)
    document: dict[str, Any]  # the JSON document to send


def _setting(name: str, default: float) -> float:
    # Tunable per test with override_settings; not part of the documented configuration.
    return float(getattr(settings, name, default))


def delivery_timeout() -> float:
    return _setting("SANDBOX_WEBHOOK_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)


def max_attempts() -> int:
    return int(_setting("SANDBOX_WEBHOOK_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))


def retry_delay(attempt: int) -> timedelta:
    """Wait after failed attempt number `attempt` (1-based): base, 2 x base, 4 x base, ..."""
    return timedelta(
        seconds=_setting("SANDBOX_WEBHOOK_RETRY_BASE_SECONDS", DEFAULT_RETRY_BASE_SECONDS) * 2 ** (attempt - 1)
    )


def webhook_url(gateway: str) -> str:
    return f"{settings.PAYFIRST_PUBLIC_BASE_URL.rstrip('/')}/api/payments/webhook/{gateway}/"


def emit(*, gateway: str, events: Sequence[OutgoingEvent]) -> list[WebhookDelivery]:
    """Record `events` (in the order a real gateway would usually send them) and enqueue their delivery.

    Call inside the transaction that made the change: the outbox rows and their tasks commit or roll back with it,
    and nothing is ever sent from inside the request. Armed faults apply here: webhook_reorder reverses a batch of
    two or more events (one use per batch); webhook_drop, webhook_delay and webhook_duplicate take one use per event.
    """
    batch = list(events)
    if len(batch) > 1 and take_fault(gateway=gateway, kind=Fault.Kind.WEBHOOK_REORDER):
        batch.reverse()
    url = webhook_url(gateway)
    deliveries: list[WebhookDelivery] = []
    with transaction.atomic():
        for event in batch:
            body = json.dumps(event.document, separators=(",", ":"), ensure_ascii=False)
            common = {
                "gateway": gateway,
                "event": event.name,
                "event_id": ids.razorpay_event_id(),
                "subject": event.subject,
                "url": url,
                "body": body,
            }
            if take_fault(gateway=gateway, kind=Fault.Kind.WEBHOOK_DROP):
                deliveries.append(WebhookDelivery.objects.create(**common, state=WebhookDelivery.State.DROPPED))
                logger.info("sandbox webhook dropped by fault", extra={"gateway": gateway, "webhook_event": event.name})
                continue
            delay = take_fault(gateway=gateway, kind=Fault.Kind.WEBHOOK_DELAY)
            run_after = timezone.now() + timedelta(seconds=delay.delay_seconds or 0) if delay else None
            copies = 2 if take_fault(gateway=gateway, kind=Fault.Kind.WEBHOOK_DUPLICATE) else 1
            for copy in range(copies):
                delivery = WebhookDelivery.objects.create(**common, is_duplicate=copy > 0, next_attempt_at=run_after)
                _enqueue(delivery=delivery, attempt=1, run_after=run_after)
                deliveries.append(delivery)
    return deliveries


def _enqueue(*, delivery: WebhookDelivery, attempt: int, run_after: Any) -> None:
    scheduled = deliver_webhook.using(run_after=run_after) if run_after is not None else deliver_webhook
    scheduled.enqueue(delivery_id=delivery.pk, attempt=attempt)


def signed_headers(delivery: WebhookDelivery, body: bytes) -> dict[str, str]:
    """The headers the gateway sends. Computed at send time from the configured secret and never stored or logged."""
    headers = {"Content-Type": "application/json"}
    if delivery.gateway == Fault.Gateway.RAZORPAY:
        headers["X-Razorpay-Event-Id"] = delivery.event_id
        headers["X-Razorpay-Signature"] = razorpay_webhook_signature(
            webhook_secret=settings.RAZORPAY_WEBHOOK_SECRET, body=body
        )
    else:
        headers["Authorization"] = phonepe_callback_authorization(
            username=settings.PHONEPE_WEBHOOK_USERNAME, password=settings.PHONEPE_WEBHOOK_PASSWORD
        )
    return headers


@task(queue_name="webhooks")
def deliver_webhook(*, delivery_id: int, attempt: int) -> str:
    """Make attempt number `attempt` at delivering one outbox row. Returns what happened (the task's result)."""
    # Claim the attempt: only the task that moves `attempts` from attempt-1 to attempt may send, so a task that runs
    # twice (or a stale retry after a success) sends nothing.
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, state=WebhookDelivery.State.PENDING, attempts=attempt - 1
    ).update(attempts=attempt, next_attempt_at=None)
    if not claimed:
        return "stale"
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    body = delivery.body.encode("utf-8")
    started_at = timezone.now()
    began = time.monotonic()
    status_code: int | None = None
    error = ""
    try:
        response = httpx.post(
            delivery.url,
            content=body,
            headers=signed_headers(delivery, body),
            timeout=delivery_timeout(),
            follow_redirects=False,
        )
        status_code = response.status_code
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except httpx.TimeoutException:
        error = "timed out"
    except httpx.TransportError as exc:
        error = f"connection failed ({type(exc).__name__})"
    duration_ms = int((time.monotonic() - began) * 1000)
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=attempt,
            started_at=started_at,
            duration_ms=duration_ms,
            status_code=status_code,
            error=error,
        )
        if not error:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                state=WebhookDelivery.State.DELIVERED, delivered_at=timezone.now()
            )
            outcome = "delivered"
        elif attempt >= max_attempts():
            WebhookDelivery.objects.filter(pk=delivery.pk).update(state=WebhookDelivery.State.FAILED)
            outcome = "failed"
        else:
            run_after = timezone.now() + retry_delay(attempt)
            WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=run_after)
            _enqueue(delivery=delivery, attempt=attempt + 1, run_after=run_after)
            outcome = "retrying"
    logger.info(
        "sandbox webhook attempt",
        extra={
            "gateway": delivery.gateway,
            "webhook_event": delivery.event,
            "delivery_id": delivery.pk,
            "attempt": attempt,
            "status_code": status_code,
            "outcome": outcome,
            "error": error,
        },
    )
    return outcome
