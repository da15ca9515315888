"""Learning a payment's outcome and recording it: every door (confirm, webhook, redirect, reconcile, expiry) comes
through `sync_payment`, which asks the gateway; `record_capture` captures exactly once, in one transaction with the
fulfilment, or flags a wrong amount, or refunds a late capture that can no longer be fulfilled.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.utils import timezone

from payfirst.cart.models import Cart, CartStatus
from payfirst.cart.services import record_promo_use
from payfirst.catalog.inventory import InsufficientStock, SlotFull, consume_holds, sell_without_hold
from payfirst.gateways.base import GatewayError, GatewayPayment, GatewayStatus
from payfirst.gateways.registry import get_gateway
from payfirst.payments.handover import fulfil
from payfirst.payments.invoicing import issue_capture_documents
from payfirst.payments.locks import lock_cart_then_payment, payment_lines_for_fulfilment
from payfirst.payments.models import Payment, Refund, ReservationState
from payfirst.payments.notices import notify_payment_confirmed
from payfirst.payments.refunds import send_refund_task
from payfirst.payments.reservations import holds_of_lines, holds_of_payment, release_and_move
from payfirst.payments.states import CAPTURED_LIKE, PaymentStatus, transition

logger = logging.getLogger("payfirst.payments")

S = PaymentStatus


class SyncOutcome(StrEnum):
    """What one sync learned and did; reconciliation counts these."""

    CAPTURED = "captured"  # fulfilled now
    AUTO_REFUND = "auto_refund"  # captured late with nothing left to fulfil: refund recorded and queued
    FLAGGED = "flagged"  # amount or currency differs: never fulfilled
    FAILED = "failed"
    PENDING = "pending"  # the gateway has nothing final yet
    UNCHANGED = "unchanged"  # already known (a replay)
    NO_ORDER = "no_order"  # the payment never got a gateway order


@dataclass(frozen=True)
class CaptureEvidence:
    """What one capture records, whichever path it takes: the door it came through, who (if staff), the gateway's
    answer (the payment's audit payload), the money fields the gateway reported, and when."""

    source: str
    actor_id: int | None
    payload: Mapping[str, Any]
    money: Mapping[str, Any]
    now: datetime


def sync_payment(
    *, payment: Payment, source: str, payload: Mapping[str, Any] | None = None, actor_id: int | None = None
) -> SyncOutcome:
    """Ask the gateway what happened to the payment's money, then record it. The gateway's status API is the truth;
    webhooks and redirects only say when to ask. Raises GatewayError when the gateway cannot answer."""
    if not payment.gateway_order_id:
        return SyncOutcome.NO_ORDER
    answer = get_gateway(payment.gateway).fetch_payment(gateway_order_id=payment.gateway_order_id)
    if answer.gateway_order_id != payment.gateway_order_id:
        raise GatewayError(f"The gateway answered for order {answer.gateway_order_id}, not {payment.gateway_order_id}.")
    evidence = {"status_api": dict(answer.raw), **({"hint": dict(payload)} if payload else {})}
    if answer.status is GatewayStatus.CAPTURED:
        return record_capture(
            payment=payment, gateway_payment=answer, source=source, payload=evidence, actor_id=actor_id
        )
    if answer.status is GatewayStatus.FAILED:
        return record_failure(
            payment_id=payment.pk, gateway_payment=answer, source=source, payload=evidence, actor_id=actor_id
        )
    return SyncOutcome.PENDING


def record_capture(
    *,
    payment: Payment,
    gateway_payment: GatewayPayment,
    source: str,
    payload: Mapping[str, Any] | None = None,
    actor_id: int | None = None,
) -> SyncOutcome:
    """Money received: in ONE transaction, capture, fulfil, turn reservations into sales, count the promo code and
    convert the cart; or flag a wrong amount; or, for a late capture that can no longer be fulfilled, record an
    automatic refund and queue it. A replay changes nothing. `payment` may be stale: it is locked and read again."""
    evidence = dict(payload or {"status_api": dict(gateway_payment.raw)})
    money = {
        "gateway_payment_id": gateway_payment.gateway_payment_id or "",
        "gateway_amount": gateway_payment.amount.value,
        "gateway_currency": gateway_payment.currency,
    }
    with transaction.atomic():
        locked = lock_cart_then_payment(payment_id=payment.pk)
        if locked.status in CAPTURED_LIKE or locked.status == S.FLAGGED:
            return SyncOutcome.UNCHANGED
        now = timezone.now()
        if gateway_payment.amount.value != locked.amount or gateway_payment.currency != locked.currency:
            logger.error(
                "gateway reports a different amount or currency than the payment; flagged, not fulfilled",
                extra={
                    "payment_id": locked.pk,
                    "expected_amount": locked.amount,
                    "expected_currency": locked.currency,
                    "gateway_amount": gateway_payment.amount.value,
                    "gateway_currency": gateway_payment.currency,
                },
            )
            release_and_move(
                payment=locked,
                to=S.FLAGGED,
                source=source,
                actor_id=actor_id,
                payload=evidence,
                fields=money,
                detail=f"Gateway reported {gateway_payment.amount.value} {gateway_payment.currency}, expected "
                f"{locked.amount} {locked.currency}. Not fulfilled; staff decide.",
            )
            return SyncOutcome.FLAGGED
        captured = CaptureEvidence(source=source, actor_id=actor_id, payload=evidence, money=money, now=now)
        if locked.status == S.PENDING:
            _capture_and_fulfil(payment=locked, evidence=captured, detail="Captured.", consume=True)
            outcome = SyncOutcome.CAPTURED
        else:
            outcome = _record_late_capture(payment=locked, evidence=captured)
    payment.status = locked.status
    logger.info("payment captured", extra={"payment_id": payment.pk, "source": source, "outcome": outcome})
    return outcome


def _record_late_capture(
    *,
    payment: Payment,
    evidence: CaptureEvidence,
) -> SyncOutcome:
    """Money for a payment we stopped waiting for (expired, cancelled, superseded, failed). Take its stock and
    places again if they are still free and fulfil; otherwise capture it with an automatic refund and its reason.

    A cart is fulfilled at most once: when the cart has since been paid by another payment, or a newer payment for
    it is pending (the customer may be paying that one right now), the late money is refunded instead."""
    was = payment.status
    # The cart row is locked by record_capture, so neither answer can change before this transaction ends.
    cart_moved_on = (
        not Cart.objects.filter(pk=payment.cart_id, status=CartStatus.ACTIVE).exists()
        or Payment.objects.filter(cart_id=payment.cart_id, status=S.PENDING).exclude(pk=payment.pk).exists()
    )
    if cart_moved_on:
        return _capture_and_refund(
            payment=payment,
            evidence=evidence,
            reason=f"Paid after the payment was {was.lower()}, when its cart had already been paid for or a newer "
            f"payment for it was open. Refunded automatically so the cart is not paid for twice.",
        )
    variants, slots = holds_of_payment(payment.pk)
    try:
        with transaction.atomic():  # a savepoint: a refusal undoes only the re-take
            sell_without_hold(variants=variants, slots=slots)
    except (InsufficientStock, SlotFull) as gone:
        return _capture_and_refund(
            payment=payment,
            evidence=evidence,
            reason=f"Paid after the payment was {was.lower()}, and what it was for is no longer available "
            f"({gone.message}) Refunded automatically.",
        )
    _capture_and_fulfil(
        payment=payment,
        evidence=evidence,
        detail=f"Paid after the payment was {was.lower()}; its stock and places were free and were taken again.",
        consume=False,
    )
    return SyncOutcome.CAPTURED


def _capture_and_refund(
    *,
    payment: Payment,
    evidence: CaptureEvidence,
    reason: str,
) -> SyncOutcome:
    """Record money that cannot be fulfilled: CAPTURED with an automatic refund of all of it, queued with the capture
    (if this transaction rolls back, the refund task never runs)."""
    transition(
        payment=payment,
        to=S.CAPTURED,
        source=evidence.source,
        actor_id=evidence.actor_id,
        payload=evidence.payload,
        detail=reason,
        fields={**evidence.money, "captured_at": evidence.now},
    )
    # Money was taken, so it is invoiced; the credit note follows when the refund is processed.
    issue_capture_documents(
        payment=payment, lines=payment_lines_for_fulfilment(payment_id=payment.pk), captured_at=evidence.now
    )
    refund = Refund.objects.create(payment=payment, amount=payment.amount, reason=reason, is_automatic=True)
    send_refund_task.enqueue(refund_id=refund.pk)
    logger.warning(
        "late capture cannot be fulfilled; automatic refund recorded and queued",
        extra={"payment_id": payment.pk, "refund_id": refund.pk},
    )
    return SyncOutcome.AUTO_REFUND


def _capture_and_fulfil(
    *,
    payment: Payment,
    evidence: CaptureEvidence,
    detail: str,
    consume: bool,
) -> None:
    """The one atomic step (inside record_capture's transaction, cart and payment rows locked)."""
    transition(
        payment=payment,
        to=S.CAPTURED,
        source=evidence.source,
        actor_id=evidence.actor_id,
        payload=evidence.payload,
        detail=detail,
        fields={**evidence.money, "captured_at": evidence.now, "reservation": ReservationState.CONSUMED},
    )
    Cart.objects.filter(pk=payment.cart_id, status=CartStatus.ACTIVE).update(
        status=CartStatus.CONVERTED, converted_at=evidence.now
    )
    # The lines are read once: for the stock they sell and for the fulfilments they become.
    lines = payment_lines_for_fulfilment(payment_id=payment.pk)
    if consume:
        variants, _slots = holds_of_lines(lines)
        consume_holds(variants=variants)
    refs = fulfil(payment=payment, lines=lines)
    notify_payment_confirmed(payment=payment, lines=lines, refs=refs)  # the email, sent once this commits
    issue_capture_documents(payment=payment, lines=lines, captured_at=evidence.now)
    if payment.promo_id is not None:
        record_promo_use(
            promo_id=payment.promo_id,
            user_id=payment.user_id,
            payment_reference=payment.reference,
            discount=payment.discount,
        )


def record_failure(
    *,
    payment_id: int,
    gateway_payment: GatewayPayment,
    source: str,
    payload: Mapping[str, Any] | None = None,
    actor_id: int | None = None,
) -> SyncOutcome:
    """The gateway says every attempt failed. Only a PENDING payment moves (to FAILED, reservations released):
    a failure that arrives after a capture, or after any other end, never moves a payment backwards."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != S.PENDING:
            return SyncOutcome.UNCHANGED
        reason = gateway_payment.error_description or gateway_payment.error_code or "The gateway reports failure."
        release_and_move(
            payment=payment,
            to=S.FAILED,
            source=source,
            actor_id=actor_id,
            payload=dict(payload or {"status_api": dict(gateway_payment.raw)}),
            detail=reason,
        )
    logger.info("payment failed", extra={"payment_id": payment_id, "source": source})
    return SyncOutcome.FAILED
