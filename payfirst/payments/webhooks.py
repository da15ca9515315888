"""Webhook intake and processing. Intake (the request) verifies the delivery on its raw bytes, stores it,
deduplicates on (gateway, event id) and queues it: no gateway call, so the gateway gets its 2xx at once. The worker
then processes the event through the same door as every other path (sync_payment: the webhook is a hint, the status
API the truth), and tries a failed one again on its own capped backoff until it succeeds or raises an alarm.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import task
from prometheus_client import Counter as MetricCounter

from payfirst.core.throttling import Quota
from payfirst.gateways.base import EventKind, GatewayError, GatewayEvent, GatewayRejected, SignatureInvalid
from payfirst.gateways.registry import get_gateway
from payfirst.ops.tasks import periodic
from payfirst.payments.locks import store_verified_webhook
from payfirst.payments.models import Payment, Refund, RefundStatus, WebhookEvent, WebhookKind, WebhookOutcome
from payfirst.payments.refunds import poll_refund, refund_for_event
from payfirst.payments.selectors import payment_for_gateway_order
from payfirst.payments.services import sync_payment
from payfirst.payments.states import EventSource

logger = logging.getLogger("payfirst.payments.webhooks")

# Headers that are credentials (PhonePe's Authorization is a static hash of the webhook username and password):
# never stored. Everything else is kept as received, for the record.
_REDACTED_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
# A delivery that fails verification is anyone's bytes: only this much of it is kept, enough to recognise it.
UNTRUSTED_BODY_CHARS = 256
_FINISHED = (WebhookOutcome.PROCESSED, WebhookOutcome.IGNORED)
_RETRYABLE = (WebhookOutcome.QUEUED, WebhookOutcome.ERROR)
_THROTTLED = "throttled"  # an answer, never a stored outcome: the source is refused until its window ends
_KINDS = {EventKind.PAYMENT: WebhookKind.PAYMENT, EventKind.REFUND: WebhookKind.REFUND}

WEBHOOKS_RECEIVED = MetricCounter(
    "payfirst_webhooks_received",
    "Webhook deliveries by gateway and what intake made of them (queued, duplicate, ignored, invalid_signature)",
    ["gateway", "outcome"],
)
WEBHOOKS_PROCESSED = MetricCounter(
    "payfirst_webhooks_processed",
    "Webhook events the worker handled, by gateway and result (processed, ignored, error, failed)",
    ["gateway", "result"],
)
WEBHOOK_ALARMS = MetricCounter(
    "payfirst_webhook_alarms",
    "Webhook events that could not be processed after every retry: kept in the inbox for a person",
    ["gateway"],
)
for _gateway in ("razorpay", "phonepe"):
    WEBHOOK_ALARMS.labels(_gateway)  # the alarm series exists from the start, reading 0


@dataclass(frozen=True)
class WebhookResult:
    webhook_event_id: int | None  # None when refused (throttled): nothing was stored
    outcome: str  # queued | duplicate | ignored | invalid_signature | throttled
    retry_after: int | None = None  # seconds, when throttled


def _storable_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: ("<redacted>" if name.lower() in _REDACTED_HEADERS else value) for name, value in headers.items()}


def _text(body: bytes, *, limit: int | None = None) -> str:
    return bytes(body[:limit] if limit is not None else body).decode("utf-8", errors="replace")


def receive_webhook(
    *, gateway: str, headers: Mapping[str, str], body: bytes, quota: Quota | None = None
) -> WebhookResult:
    """Verify, store, deduplicate and queue one delivery; never calls the gateway.

    A verified, first-seen payment or refund event is stored QUEUED with its processing task (one statement: the
    task exists exactly when the row does). A forged or unsigned delivery is counted against the source's `quota`
    and kept as its first bytes only. A source that used its quota up is refused (`throttled`, nothing stored),
    whatever it sends: for a verified delivery the intake statement itself tests that (no cache read of its own).
    """
    now = timezone.now()
    kept_headers = _storable_headers(headers)
    try:
        # Verification first: it is CPU only (an HMAC over the raw bytes), and only a delivery that fails it counts.
        event = get_gateway(gateway).parse_webhook(headers=headers, body=body)
    except SignatureInvalid as error:
        if quota is not None and (wait := quota.wait()):
            return WebhookResult(None, _THROTTLED, wait)
        return _keep_unverified(gateway=gateway, headers=kept_headers, body=body, error=error, quota=quota, now=now)
    except GatewayRejected as error:
        # Verified but not understood: redelivering the same bytes would not help.
        if quota is not None and (wait := quota.wait()):
            return WebhookResult(None, _THROTTLED, wait)
        return _keep_not_understood(gateway=gateway, headers=kept_headers, body=body, error=error, now=now)
    return _store_verified(gateway=gateway, headers=kept_headers, body=body, event=event, quota=quota, now=now)


def _keep_unverified(
    *, gateway: str, headers: dict[str, str], body: bytes, error: Exception, quota: Quota | None, now: datetime
) -> WebhookResult:
    """A delivery that failed verification: its first bytes kept, counted against the source's quota."""
    record = WebhookEvent.objects.create(
        gateway=gateway,
        headers=headers,
        body=_text(body, limit=UNTRUSTED_BODY_CHARS),
        body_size=len(body),
        outcome=WebhookOutcome.INVALID_SIGNATURE,
        error=str(error)[:4000],
        processed_at=now,
    )
    if quota is not None:
        quota.hit()
    WEBHOOKS_RECEIVED.labels(gateway, WebhookOutcome.INVALID_SIGNATURE).inc()
    logger.warning(
        "webhook signature invalid; counted, body not kept, nothing changed",
        extra={"webhook_event_id": record.pk, "gateway": gateway, "body_size": len(body)},
    )
    return WebhookResult(record.pk, WebhookOutcome.INVALID_SIGNATURE)


def _keep_not_understood(
    *, gateway: str, headers: dict[str, str], body: bytes, error: Exception, now: datetime
) -> WebhookResult:
    """A verified delivery the adapter could not read: kept whole, IGNORED."""
    record = WebhookEvent.objects.create(
        gateway=gateway,
        headers=headers,
        body=_text(body),
        body_size=len(body),
        is_verified=True,
        outcome=WebhookOutcome.IGNORED,
        error=str(error)[:4000],
        processed_at=now,
    )
    WEBHOOKS_RECEIVED.labels(gateway, WebhookOutcome.IGNORED).inc()
    logger.warning(
        "verified webhook not understood; ignored", extra={"webhook_event_id": record.pk, "error": str(error)}
    )
    return WebhookResult(record.pk, WebhookOutcome.IGNORED)


def _store_verified(
    *, gateway: str, headers: dict[str, str], body: bytes, event: GatewayEvent, quota: Quota | None, now: datetime
) -> WebhookResult:
    """A verified delivery stored, deduplicated and queued in one statement (payments/locks.py): the row claims its
    event (the partial unique constraint lets one row per event be the claimed one) and its task is queued with it,
    so the task exists exactly when the row does; a second copy is stored as a duplicate and hurries the first one's
    retry. The source's quota is tested inside the statement."""
    refused = quota.refused_sql() if quota is not None else None
    if quota is not None and refused is None and (wait := quota.wait()):  # a cache the statement cannot read
        return WebhookResult(None, _THROTTLED, wait)
    kind = _KINDS.get(event.kind, WebhookKind.OTHER)
    stored = store_verified_webhook(
        delivery={
            "gateway": gateway,
            "headers": headers,
            "body": _text(body),
            "body_size": len(body),
            "event_id": event.event_id[:128],
            "event_name": event.name[:64],
            "gateway_order_id": (event.gateway_order_id or "")[:64],
            "kind": kind,
            "gateway_refund_id": (event.gateway_refund_id or "")[:64],
            "refund_reference": (event.refund_reference or "")[:64],
            "gateway_payment_id": (event.gateway_payment_id or "")[:64],
        },
        is_actionable=kind != WebhookKind.OTHER,
        task=process_webhook_task,
        now=now,
        refused=refused,
    )
    if stored is None:  # the source used its quota up: nothing was written
        return WebhookResult(None, _THROTTLED, quota.seconds_left() if quota is not None else 1)
    WEBHOOKS_RECEIVED.labels(gateway, stored.outcome).inc()
    logger.info(
        "webhook received",
        extra={"webhook_event_id": stored.id, "gateway": gateway, "event": event.name[:64], "outcome": stored.outcome},
    )
    return WebhookResult(stored.id, stored.outcome)


def backoff(attempts: int) -> timedelta:
    """The wait before the next try after `attempts` failed ones: doubling from WEBHOOK_RETRY_BASE_SECONDS, capped at
    WEBHOOK_RETRY_MAX_SECONDS."""
    base = int(settings.WEBHOOK_RETRY_BASE_SECONDS)
    return timedelta(seconds=min(int(settings.WEBHOOK_RETRY_MAX_SECONDS), base * 2 ** max(attempts - 1, 0)))


def _event_of(record: WebhookEvent) -> GatewayEvent:
    """The verified event again, from what intake stored (its credential header is never stored, so it cannot be
    verified twice; it was verified on arrival)."""
    try:
        payload = json.loads(record.body)
    except ValueError:
        payload = {}
    return GatewayEvent(
        event_id=record.event_id,
        kind=EventKind.REFUND if record.kind == WebhookKind.REFUND else EventKind.PAYMENT,
        name=record.event_name,
        gateway_order_id=record.gateway_order_id,
        gateway_payment_id=record.gateway_payment_id or None,
        gateway_refund_id=record.gateway_refund_id or None,
        refund_reference=record.refund_reference or None,
        amount=None,
        currency=None,
        status="",
        payload=payload if isinstance(payload, dict) else {},
    )


def process_webhook(*, webhook_event_id: int) -> str:
    """Process one queued (or failed, due again) delivery; returns its outcome. A gateway error schedules the next
    try with capped backoff; after WEBHOOK_MAX_ATTEMPTS the event is FAILED and an alarm is raised. Any other error
    is recorded the same way and raised again (the task shows it)."""
    record = WebhookEvent.objects.get(pk=webhook_event_id)
    if record.outcome not in _RETRYABLE or not record.is_verified:
        return record.outcome  # already handled (a second task for it, or an operator got there first)
    attempts = record.attempts + 1
    WebhookEvent.objects.filter(pk=record.pk).update(attempts=attempts)
    record.attempts = attempts
    try:
        outcome = _process(record=record, event=_event_of(record))
    except GatewayError as error:
        return _failed(record, error)
    except Exception as error:
        _failed(record, error)
        raise
    WEBHOOKS_PROCESSED.labels(record.gateway, outcome).inc()
    return outcome


def _failed(record: WebhookEvent, error: Exception) -> str:
    detail = f"{type(error).__name__}: {error}"
    if record.attempts >= int(settings.WEBHOOK_MAX_ATTEMPTS):
        _finish(record, WebhookOutcome.FAILED, error=detail)
        WEBHOOKS_PROCESSED.labels(record.gateway, WebhookOutcome.FAILED).inc()
        WEBHOOK_ALARMS.labels(record.gateway).inc()
        logger.error(
            "ALARM webhook could not be processed; kept in the inbox for a person",
            extra={
                "webhook_event_id": record.pk,
                "gateway": record.gateway,
                "attempts": record.attempts,
                "error": detail,
                "alarm": "webhook_failed",
            },
        )
        return WebhookOutcome.FAILED
    retry_at = timezone.now() + backoff(record.attempts)
    WebhookEvent.objects.filter(pk=record.pk).update(
        outcome=WebhookOutcome.ERROR, error=detail[:4000], next_attempt_at=retry_at, processed_at=None
    )
    record.outcome = WebhookOutcome.ERROR
    WEBHOOKS_PROCESSED.labels(record.gateway, WebhookOutcome.ERROR).inc()
    logger.warning(
        "webhook processing failed; tried again later",
        extra={"webhook_event_id": record.pk, "attempts": record.attempts, "retry_at": retry_at, "error": detail},
    )
    return WebhookOutcome.ERROR


def _process(*, record: WebhookEvent, event: GatewayEvent) -> str:
    if record.kind == WebhookKind.REFUND:
        return _process_refund(record=record, event=event)
    payment = payment_for_gateway_order(gateway=record.gateway, gateway_order_id=event.gateway_order_id)
    if payment is None:
        _finish(record, WebhookOutcome.IGNORED, error=f"No payment has gateway order {event.gateway_order_id!r}.")
        logger.warning(
            "webhook for an unknown gateway order; ignored",
            extra={"webhook_event_id": record.pk, "gateway_order_id": event.gateway_order_id},
        )
        return WebhookOutcome.IGNORED
    WebhookEvent.objects.filter(pk=record.pk).update(payment=payment)
    outcome = sync_payment(
        payment=payment,
        source=EventSource.WEBHOOK,
        payload={
            "event": event.name,
            "event_id": event.event_id,
            "webhook_event": record.pk,
            "payload": dict(event.payload),
        },
    )
    _finish(record, WebhookOutcome.PROCESSED)
    logger.info(
        "webhook processed", extra={"webhook_event_id": record.pk, "payment_id": payment.pk, "outcome": outcome}
    )
    return WebhookOutcome.PROCESSED


def _process_refund(*, record: WebhookEvent, event: GatewayEvent) -> str:
    """A refund event is a hint too: the refund's status is read back from the gateway (poll_refund) and applied
    once, so duplicated or reordered deliveries cannot move a refund backwards or count it twice."""
    refund = refund_for_event(gateway=record.gateway, event=event)
    if refund is None:
        _finish(record, WebhookOutcome.IGNORED, error=f"No refund has reference {event.refund_reference!r}.")
        logger.warning("webhook for an unknown refund; ignored", extra={"webhook_event_id": record.pk})
        return WebhookOutcome.IGNORED
    WebhookEvent.objects.filter(pk=record.pk).update(payment_id=refund.payment_id)
    status = poll_refund(
        refund_id=refund.pk, source=EventSource.WEBHOOK, gateway_refund_id=event.gateway_refund_id or ""
    )
    _finish(record, WebhookOutcome.PROCESSED)
    logger.info(
        "refund webhook processed",
        extra={
            "webhook_event_id": record.pk,
            "refund_id": refund.pk,
            "payment_id": refund.payment_id,
            "status": status,
        },
    )
    return WebhookOutcome.PROCESSED


def _finish(record: WebhookEvent, outcome: str, *, error: str = "") -> None:
    WebhookEvent.objects.filter(pk=record.pk).update(
        outcome=outcome, error=error[:4000], processed_at=timezone.now(), next_attempt_at=None
    )
    record.outcome = outcome


def redrive_webhook(*, webhook_event_id: int) -> str:
    """Process a stored, verified payment delivery again whatever its outcome (operators, from the admin). It is not
    verified again (its credential header is not stored): the row is `is_verified` because its signature held."""
    record = WebhookEvent.objects.get(pk=webhook_event_id, is_verified=True)
    payment = payment_for_gateway_order(gateway=record.gateway, gateway_order_id=record.gateway_order_id)
    if payment is None and record.payment_id is not None:  # a refund delivery names its refund, not an order
        payment = Payment.objects.select_related("cart").get(pk=record.payment_id)
    if payment is None:
        _finish(record, WebhookOutcome.IGNORED, error=f"No payment has gateway order {record.gateway_order_id!r}.")
        return WebhookOutcome.IGNORED
    WebhookEvent.objects.filter(pk=record.pk).update(payment=payment, attempts=record.attempts + 1)
    try:
        sync_payment(payment=payment, source=EventSource.WEBHOOK, payload={"redrive_of_webhook_event": record.pk})
        # The delivery may have been about a refund: its pending refunds are read back from the gateway too.
        for refund_id in Refund.objects.filter(payment=payment, status=RefundStatus.PENDING).values_list(
            "pk", flat=True
        ):
            poll_refund(refund_id=refund_id, source=EventSource.WEBHOOK)
    except GatewayError as error:
        WebhookEvent.objects.filter(pk=record.pk).update(
            outcome=WebhookOutcome.ERROR, error=f"{type(error).__name__}: {error}"[:4000], processed_at=None
        )
        raise
    _finish(record, WebhookOutcome.PROCESSED)
    return WebhookOutcome.PROCESSED


def due_webhook_ids(*, now: datetime | None = None, limit: int = 100) -> list[int]:
    """Deliveries the worker should process now: failed ones whose next try is due, and queued ones whose task has
    not run within WEBHOOK_QUEUED_GRACE_SECONDS (a worker died holding it, or the queue lost it)."""
    now = now or timezone.now()
    grace = now - timedelta(seconds=int(settings.WEBHOOK_QUEUED_GRACE_SECONDS))
    error_due = WebhookEvent.objects.filter(
        outcome=WebhookOutcome.ERROR, is_verified=True, is_claimed=True, next_attempt_at__lte=now
    )
    queued_stale = WebhookEvent.objects.filter(outcome=WebhookOutcome.QUEUED, received_at__lte=grace)
    ids = set(error_due.order_by("pk").values_list("pk", flat=True)[:limit])
    ids |= set(queued_stale.order_by("pk").values_list("pk", flat=True)[:limit])
    return sorted(ids)[:limit]


def process_due_webhooks(*, now: datetime | None = None, limit: int = 100) -> Counter[str]:
    """The periodic re-drive: process every due delivery once; returns the count of each outcome."""
    outcomes: Counter[str] = Counter()
    for webhook_event_id in due_webhook_ids(now=now, limit=limit):
        outcomes[process_webhook(webhook_event_id=webhook_event_id)] += 1
    return outcomes


def purge_webhook_events(*, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete deliveries that are done with (processed, duplicate, ignored, invalid signature) and were received
    before `older_than` ago; returns how many. Queued, retrying and failed ones stay, whatever their age."""
    cutoff = (now or timezone.now()) - older_than
    done = (
        WebhookOutcome.PROCESSED,
        WebhookOutcome.DUPLICATE,
        WebhookOutcome.IGNORED,
        WebhookOutcome.INVALID_SIGNATURE,
    )
    deleted, _ = WebhookEvent.objects.filter(outcome__in=done, received_at__lt=cutoff).delete()
    if deleted:
        logger.info("old webhook deliveries deleted", extra={"deleted": deleted, "received_before": cutoff})
    return deleted


@task(queue_name="default")
def process_webhook_task(*, webhook_event_id: int) -> str:
    return process_webhook(webhook_event_id=webhook_event_id)


@periodic(every=timedelta(minutes=1))
@task()
def process_due_webhooks_task() -> dict[str, int]:
    """Retries on the backoff schedule, and queued deliveries whose task was lost."""
    return dict(process_due_webhooks())


@periodic(every=timedelta(hours=6))
@task()
def purge_webhook_events_task() -> int:
    return purge_webhook_events(older_than=timedelta(days=int(settings.WEBHOOK_RETENTION_DAYS)))
