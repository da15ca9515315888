"""The sandbox's webhook outbox. `emit` records each event (applying armed webhook faults) inside the transaction that
made the change; `send` makes one attempt, signed as the gateway signs it, and decides what happens next: delivered,
retried on Razorpay's schedule (exponential, for 24 hours from the event, compressed by SANDBOX_TIME_SCALE), or failed
for good, which disables the gateway's endpoint as Razorpay does."""

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

from sandbox import ids
from sandbox.clock import scaled
from sandbox.faults import armed_kinds, take_fault
from sandbox.models import Fault, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from sandbox.signing import phonepe_callback_authorization, razorpay_webhook_signature
from sandbox.wakeups import wake_on_commit

logger = logging.getLogger(__name__)

# Razorpay retries a webhook that is not answered 2xx with exponential backoff for 24 hours after the event.
FIRST_RETRY_SECONDS = 60
RETRY_WINDOW_SECONDS = 24 * 3600


@dataclass(frozen=True)
class OutgoingEvent:
    name: str  # "payment.captured", "checkout.order.completed", ...
    subject: str  # the id the event is about (payment, order or refund)
    document: dict[str, Any]  # the JSON document to send


# One client for every delivery thread (httpx clients are thread-safe): no TLS context built per webhook.
_http = httpx.Client(follow_redirects=False)


def webhook_url(gateway: str) -> str:
    if gateway == Fault.Gateway.RAZORPAY:
        return settings.SANDBOX_WEBHOOK_URL_RAZORPAY
    return settings.SANDBOX_WEBHOOK_URL_PHONEPE


def endpoint_disabled(gateway: str) -> bool:
    return WebhookEndpoint.objects.filter(gateway=gateway, is_disabled=True).exists()


def retry_delay(attempt: int) -> timedelta:
    """Wait after failed attempt number `attempt` (1-based): 1 min, 2 min, 4 min, ... of gateway time."""
    return scaled(FIRST_RETRY_SECONDS * 2 ** (attempt - 1))


def emit(*, gateway: str, events: Sequence[OutgoingEvent]) -> list[WebhookDelivery]:
    """Record `events` (in the order a real gateway would usually send them) for the delivery threads.

    Armed faults apply here: webhook_reorder reverses a batch of two or more events (one use per batch);
    webhook_drop, webhook_delay and webhook_duplicate take one use per event.
    """
    batch = list(events)
    armed = armed_kinds(gateway=gateway)
    if len(batch) > 1 and take_fault(gateway=gateway, kind=Fault.Kind.WEBHOOK_REORDER, armed=armed):
        batch.reverse()
    url = webhook_url(gateway)
    disabled = endpoint_disabled(gateway)
    deliveries: list[WebhookDelivery] = []
    now = timezone.now()
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
                "created_at": now,
            }
            if disabled:
                deliveries.append(WebhookDelivery.objects.create(**common, state=WebhookDelivery.State.SKIPPED))
                continue
            if take_fault(gateway=gateway, kind=Fault.Kind.WEBHOOK_DROP, armed=armed):
                deliveries.append(WebhookDelivery.objects.create(**common, state=WebhookDelivery.State.DROPPED))
                logger.info("sandbox webhook dropped by fault: %s %s", gateway, event.name)
                continue
            delay = take_fault(gateway=gateway, kind=Fault.Kind.WEBHOOK_DELAY, armed=armed)
            run_after = now + scaled(delay.delay_seconds or 0) if delay else now
            copies = 2 if take_fault(gateway=gateway, kind=Fault.Kind.WEBHOOK_DUPLICATE, armed=armed) else 1
            for copy in range(copies):
                deliveries.append(
                    WebhookDelivery.objects.create(**common, is_duplicate=copy > 0, next_attempt_at=run_after)
                )
        wake_on_commit(sum(delivery.state == WebhookDelivery.State.PENDING for delivery in deliveries))
    return deliveries


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


def send(delivery: WebhookDelivery) -> str:
    """Make the attempt the caller claimed (delivery.attempts is its number) and record it. Returns the outcome."""
    attempt = delivery.attempts
    body = delivery.body.encode("utf-8")
    started_at = timezone.now()
    began = time.monotonic()
    status_code: int | None = None
    error = ""
    try:
        response = _http.post(
            delivery.url,
            content=body,
            headers=signed_headers(delivery, body),
            timeout=float(settings.SANDBOX_WEBHOOK_TIMEOUT_SECONDS),
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
        pending = WebhookDelivery.objects.filter(pk=delivery.pk, state=WebhookDelivery.State.PENDING)
        retry_at = timezone.now() + retry_delay(attempt)
        deadline = delivery.created_at + scaled(RETRY_WINDOW_SECONDS)
        if not error:
            pending.update(state=WebhookDelivery.State.DELIVERED, delivered_at=timezone.now(), lease_until=None)
            outcome = "delivered"
        elif timezone.now() >= deadline:
            pending.update(state=WebhookDelivery.State.FAILED, lease_until=None, next_attempt_at=None)
            _disable_endpoint(delivery.gateway)
            outcome = "failed"
        else:
            # The last retry falls on the end of the window, as Razorpay's retries stop 24 hours after the event.
            pending.update(next_attempt_at=min(retry_at, deadline), lease_until=None)
            outcome = "retrying"
    logger.info("sandbox webhook %s #%s attempt %s: %s %s", delivery.event, delivery.pk, attempt, outcome, error)
    return outcome


def _disable_endpoint(gateway: str) -> None:
    """A webhook that failed for its whole retry window disables the endpoint; what is still queued is not sent."""
    WebhookEndpoint.objects.update_or_create(
        gateway=gateway, defaults={"is_disabled": True, "disabled_at": timezone.now()}
    )
    WebhookDelivery.objects.filter(gateway=gateway, state=WebhookDelivery.State.PENDING).update(
        state=WebhookDelivery.State.SKIPPED, lease_until=None
    )
    logger.warning("sandbox %s webhook endpoint disabled after failing for the whole retry window", gateway)


def enable_endpoint(gateway: str) -> None:
    WebhookEndpoint.objects.update_or_create(gateway=gateway, defaults={"is_disabled": False, "disabled_at": None})
