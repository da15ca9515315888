"""Webhook intake: store the raw delivery first, verify it on the raw bytes, deduplicate on (gateway, event id),
then go through the same door as every other path (sync_payment: the webhook is a hint, the status API the truth).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from payfirst.gateways.base import EventKind, GatewayError, GatewayEvent, GatewayRejected, SignatureInvalid
from payfirst.gateways.registry import get_gateway
from payfirst.payments.models import Payment, Refund, RefundStatus, WebhookEvent, WebhookOutcome
from payfirst.payments.refunds import poll_refund, refund_for_event
from payfirst.payments.selectors import payment_for_gateway_order
from payfirst.payments.services import sync_payment
from payfirst.payments.states import EventSource

logger = logging.getLogger("payfirst.payments.webhooks")

# Headers that are credentials (PhonePe's Authorization is a static hash of the webhook username and password):
# never stored. Everything else is kept as received, for the record and for re-driving.
_REDACTED_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
_FINISHED = (WebhookOutcome.PROCESSED, WebhookOutcome.IGNORED)


@dataclass(frozen=True)
class WebhookResult:
    record: WebhookEvent
    outcome: str  # processed | duplicate | ignored | invalid_signature


class WebhookProcessingFailed(Exception):
    """Processing a verified delivery failed; the view answers non-2xx so that the gateway delivers it again."""

    def __init__(self, record: WebhookEvent, error: Exception) -> None:
        self.record = record
        self.error = error
        super().__init__(str(error))


def _storable_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: ("<redacted>" if name.lower() in _REDACTED_HEADERS else value) for name, value in headers.items()}


def receive_webhook(*, gateway: str, headers: Mapping[str, str], body: bytes) -> WebhookResult:
    """Keep every delivery, trusted or not; act only on verified, first-seen events.

    Raises WebhookProcessingFailed when a verified event could not be processed (the row says why), so that the
    gateway retries; a retry of an event whose first processing failed is processed again, not a duplicate.
    """
    record = WebhookEvent.objects.create(
        gateway=gateway, headers=_storable_headers(headers), body=body.decode("utf-8", errors="replace")
    )
    try:
        event = get_gateway(gateway).parse_webhook(headers=headers, body=body)
    except SignatureInvalid as error:
        _finish(record, WebhookOutcome.INVALID_SIGNATURE, error=str(error))
        logger.warning(
            "webhook signature invalid; nothing changed", extra={"webhook_event_id": record.pk, "gateway": gateway}
        )
        return WebhookResult(record, WebhookOutcome.INVALID_SIGNATURE)
    except GatewayRejected as error:
        # Verified but not understood: redelivering the same bytes would not help.
        _finish(record, WebhookOutcome.IGNORED, error=str(error), verified=True)
        logger.warning(
            "verified webhook not understood; ignored", extra={"webhook_event_id": record.pk, "error": str(error)}
        )
        return WebhookResult(record, WebhookOutcome.IGNORED)

    WebhookEvent.objects.filter(pk=record.pk).update(
        is_verified=True,
        event_id=event.event_id[:128],
        event_name=event.name[:64],
        gateway_order_id=(event.gateway_order_id or "")[:64],
    )
    record.is_verified, record.event_id, record.event_name = True, event.event_id[:128], event.name[:64]
    if not _claim(record):
        first = WebhookEvent.objects.filter(gateway=gateway, event_id=record.event_id, is_claimed=True).first()
        if first is not None and first.outcome in _FINISHED:
            _finish(record, WebhookOutcome.DUPLICATE)
            logger.info("duplicate webhook", extra={"webhook_event_id": record.pk, "first": first.pk})
            return WebhookResult(record, WebhookOutcome.DUPLICATE)
        # The first delivery failed or is still under way: process again (sync_payment is idempotent). Once this
        # succeeds the event counts as processed, so later redeliveries are duplicates.
        outcome = _process(record=record, event=event)
        if first is not None and outcome in _FINISHED:
            WebhookEvent.objects.filter(pk=first.pk).exclude(outcome__in=_FINISHED).update(
                outcome=outcome, processed_at=timezone.now()
            )
        return WebhookResult(record, outcome)
    return WebhookResult(record, _process(record=record, event=event))


def _claim(record: WebhookEvent) -> bool:
    """Mark the row as its event's first verified delivery; the partial unique constraint refuses a second."""
    try:
        with transaction.atomic():
            WebhookEvent.objects.filter(pk=record.pk).update(is_claimed=True)
    except IntegrityError:
        return False
    record.is_claimed = True
    return True


def _process(*, record: WebhookEvent, event: GatewayEvent) -> str:
    if event.kind is EventKind.REFUND:
        return _process_refund(record=record, event=event)
    if event.kind is not EventKind.PAYMENT:
        _finish(record, WebhookOutcome.IGNORED)
        return WebhookOutcome.IGNORED
    payment = payment_for_gateway_order(gateway=record.gateway, gateway_order_id=event.gateway_order_id)
    if payment is None:
        _finish(record, WebhookOutcome.IGNORED, error=f"No payment has gateway order {event.gateway_order_id!r}.")
        logger.warning(
            "webhook for an unknown gateway order; ignored",
            extra={"webhook_event_id": record.pk, "gateway_order_id": event.gateway_order_id},
        )
        return WebhookOutcome.IGNORED
    WebhookEvent.objects.filter(pk=record.pk).update(payment=payment, attempts=record.attempts + 1)
    try:
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
    except GatewayError as error:
        _finish(record, WebhookOutcome.ERROR, error=f"{type(error).__name__}: {error}")
        logger.error(
            "webhook processing failed; the gateway will deliver it again",
            extra={"webhook_event_id": record.pk, "payment_id": payment.pk, "error": str(error)},
        )
        raise WebhookProcessingFailed(record, error) from error
    except Exception as error:
        # Not swallowed: noted on the delivery, then re-raised (a 500), so the gateway delivers it again.
        _finish(record, WebhookOutcome.ERROR, error=f"{type(error).__name__}: {error}")
        raise
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
    WebhookEvent.objects.filter(pk=record.pk).update(payment_id=refund.payment_id, attempts=record.attempts + 1)
    try:
        status = poll_refund(
            refund_id=refund.pk, source=EventSource.WEBHOOK, gateway_refund_id=event.gateway_refund_id or ""
        )
    except GatewayError as error:
        _finish(record, WebhookOutcome.ERROR, error=f"{type(error).__name__}: {error}")
        logger.error(
            "refund webhook processing failed; the gateway will deliver it again",
            extra={"webhook_event_id": record.pk, "refund_id": refund.pk, "error": str(error)},
        )
        raise WebhookProcessingFailed(record, error) from error
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


def _finish(record: WebhookEvent, outcome: str, *, error: str = "", verified: bool | None = None) -> None:
    changes: dict[str, object] = {"outcome": outcome, "error": error[:4000], "processed_at": timezone.now()}
    if verified is not None:
        changes["is_verified"] = verified
    WebhookEvent.objects.filter(pk=record.pk).update(**changes)
    record.outcome = outcome


def redrive_webhook(*, webhook_event_id: int) -> str:
    """Process a stored, verified payment delivery again (operators; retrying failed processing). It is not verified
    again (its credential header is not stored): the row is `is_verified` because its signature held on arrival."""
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
        _finish(record, WebhookOutcome.ERROR, error=f"{type(error).__name__}: {error}")
        raise
    _finish(record, WebhookOutcome.PROCESSED)
    return WebhookOutcome.PROCESSED
