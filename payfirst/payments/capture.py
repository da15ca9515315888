"""Learning a payment's outcome and recording it: every door (confirm, webhook, redirect, reconcile, expiry) comes
through `sync_payment`, which asks the gateway (read-only); `record_capture` captures exactly once, in one transaction
with the fulfilment, or flags a wrong amount, or refunds a late capture that can no longer be fulfilled.

Money merely authorised (Razorpay) is taken only here, by `capture_authorized`, and only for a payment that can be
fulfilled with it: a live PENDING payment of that exact amount, or an ended one whose cart and stock are still free.
Anything else is left uncaptured, so the gateway gives it back to the customer without its fee. Every other attempt
on the order is accounted for (`account_for_attempts`): failed ones on the timeline, a second capture refunded.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.utils import timezone

from payfirst.cart.models import Cart, CartStatus
from payfirst.cart.services import record_promo_use
from payfirst.catalog.inventory import InsufficientStock, SlotFull, consume_holds, sell_without_hold
from payfirst.gateways.base import AttemptStatus, GatewayAttempt, GatewayError, GatewayPayment, GatewayStatus
from payfirst.gateways.registry import get_gateway
from payfirst.payments.handover import fulfil
from payfirst.payments.invoicing import issue_capture_documents
from payfirst.payments.locks import insert_attempt_once, lock_cart_then_payment, payment_lines_for_fulfilment
from payfirst.payments.models import AttemptDecision, Payment, PaymentAttempt, PaymentEvent, Refund, ReservationState
from payfirst.payments.notices import notify_payment_confirmed
from payfirst.payments.refunds import send_refund_task
from payfirst.payments.reservations import holds_of_lines, holds_of_payment, release_and_move
from payfirst.payments.states import CAPTURED_LIKE, LATE_CAPTURE_FROM, PaymentStatus, transition

logger = logging.getLogger("payfirst.payments")

S = PaymentStatus


class SyncOutcome(StrEnum):
    """What one sync learned and did; reconciliation counts these."""

    CAPTURED = "captured"  # fulfilled now
    AUTO_REFUND = "auto_refund"  # captured late with nothing left to fulfil: refund recorded and queued
    FLAGGED = "flagged"  # amount or currency differs: never fulfilled
    FAILED = "failed"
    PENDING = "pending"  # the gateway has nothing final yet
    LEFT_UNCAPTURED = "left_uncaptured"  # authorised money payfirst cannot fulfil: not captured, the gateway returns it
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
    webhooks and redirects only say when to ask. Asking is read-only: authorised money is captured only through
    `capture_authorized`, under its rules. Raises GatewayError when the gateway cannot answer."""
    if not payment.gateway_order_id:
        return SyncOutcome.NO_ORDER
    gateway = get_gateway(payment.gateway)
    answer = gateway.fetch_payment(gateway_order_id=payment.gateway_order_id)
    if answer.gateway_order_id != payment.gateway_order_id:
        raise GatewayError(f"The gateway answered for order {answer.gateway_order_id}, not {payment.gateway_order_id}.")
    evidence = {"status_api": dict(answer.raw), **({"hint": dict(payload)} if payload else {})}
    outcome = SyncOutcome.PENDING
    if answer.status is GatewayStatus.AUTHORIZED:
        captured = capture_authorized(payment_id=payment.pk, answer=answer, source=source, actor_id=actor_id)
        if captured is None:
            outcome = SyncOutcome.LEFT_UNCAPTURED
        else:
            answer = captured
            evidence["capture"] = {"gateway_payment_id": captured.gateway_payment_id, "amount": captured.amount.value}
    if answer.status is GatewayStatus.CAPTURED:
        outcome = record_capture(
            payment=payment, gateway_payment=answer, source=source, payload=evidence, actor_id=actor_id
        )
    elif answer.status is GatewayStatus.FAILED:
        outcome = record_failure(
            payment_id=payment.pk, gateway_payment=answer, source=source, payload=evidence, actor_id=actor_id
        )
    account_for_attempts(payment_id=payment.pk, answer=answer, source=source)
    return outcome


# ---------------------------------------------------------------------------------------------------------------
# Authorised money: the explicit capture step, and every attempt accounted for
# ---------------------------------------------------------------------------------------------------------------


def _speaking_attempt(answer: GatewayPayment) -> GatewayAttempt:
    for attempt in answer.attempts:
        if attempt.gateway_payment_id == answer.gateway_payment_id:
            return attempt
    return GatewayAttempt(
        gateway_payment_id=answer.gateway_payment_id or "",
        status=AttemptStatus.AUTHORIZED,
        amount=answer.amount,
        currency=answer.currency,
    )


def capture_authorized(
    *, payment_id: int, answer: GatewayPayment, source: str, actor_id: int | None = None
) -> GatewayPayment | None:
    """Capture the order's authorised attempt when payfirst may take that money: intent recorded and committed
    (the attempt row, CAPTURE_REQUESTED, and a timeline line), then the gateway call with no transaction open; the
    caller applies the answer (record_capture) in a new short transaction. Returns the order as captured, or None when
    the money is left uncaptured (the decision and its reason go on the timeline once). Raises GatewayError when the
    gateway cannot answer or refuses; the intent row keeps the error, and asking again is safe (a second capture of
    a captured attempt answers it as captured)."""
    attempt = _speaking_attempt(answer)
    reason = _why_not_capture(payment_id=payment_id, attempt=attempt)
    if reason is not None:
        decide_attempt(
            payment_id=payment_id,
            attempt=attempt,
            decision=AttemptDecision.LEFT_UNCAPTURED,
            detail=reason,
            source=source,
        )
        logger.warning(
            "authorised money left uncaptured",
            extra={"payment_id": payment_id, "gateway_payment_id": attempt.gateway_payment_id, "reason": reason},
        )
        return None
    decide_attempt(
        payment_id=payment_id,
        attempt=attempt,
        decision=AttemptDecision.CAPTURE_REQUESTED,
        detail=f"Capture of {attempt.gateway_payment_id} for {attempt.amount.value} paise requested.",
        source=source,
        actor_id=actor_id,
    )
    gateway = get_gateway(Payment.objects.values_list("gateway", flat=True).get(pk=payment_id))
    try:
        captured = gateway.capture(
            gateway_order_id=answer.gateway_order_id,
            gateway_payment_id=attempt.gateway_payment_id,
            amount=attempt.amount,
        )
    except GatewayError as error:
        PaymentAttempt.objects.filter(payment_id=payment_id, gateway_payment_id=attempt.gateway_payment_id).update(
            error=f"{type(error).__name__}: {error}"[:2000], updated_at=timezone.now()
        )
        logger.warning(
            "capture not done; asked again on the next sync",
            extra={"payment_id": payment_id, "gateway_payment_id": attempt.gateway_payment_id, "error": str(error)},
        )
        raise
    return replace(
        answer,
        status=GatewayStatus.CAPTURED,
        gateway_payment_id=captured.gateway_payment_id,
        amount=captured.amount,
        currency=captured.currency,
        attempts=tuple(captured if a.gateway_payment_id == captured.gateway_payment_id else a for a in answer.attempts),
    )


def _why_not_capture(*, payment_id: int, attempt: GatewayAttempt) -> str | None:
    """None when payfirst may capture `attempt` for this payment; otherwise why it is left uncaptured."""
    payment = Payment.objects.get(pk=payment_id)
    keep = "Not captured: the gateway gives the authorisation back to the customer, without its fee."
    if attempt.amount.value != payment.amount or attempt.currency != payment.currency:
        return (
            f"{attempt.gateway_payment_id} authorised {attempt.amount.value} {attempt.currency}, but the payment is "
            f"for {payment.amount} {payment.currency}. {keep}"
        )
    if payment.status == S.PENDING:
        return None
    if payment.status in LATE_CAPTURE_FROM:
        if _can_fulfil_late(payment):
            return None
        return (
            f"{attempt.gateway_payment_id} authorised after the payment was {payment.status.lower()}, and it can no "
            f"longer be fulfilled (its cart moved on or its stock and places are gone). {keep}"
        )
    return (
        f"{attempt.gateway_payment_id} authorised on an order already settled "
        f"({payment.status.lower()}, by {payment.gateway_payment_id or 'another attempt'}). {keep}"
    )


class _Probe(Exception):
    """Rolls a savepoint back after checking that stock and places could be taken again."""


def _cart_moved_on(payment: Payment) -> bool:
    return (
        not Cart.objects.filter(pk=payment.cart_id, status=CartStatus.ACTIVE).exists()
        or Payment.objects.filter(cart_id=payment.cart_id, status=S.PENDING).exclude(pk=payment.pk).exists()
    )


def _can_fulfil_late(payment: Payment) -> bool:
    """Could an ended payment still be fulfilled? The cart must not have moved on, and its stock and places must be
    free: they are taken in a savepoint and given straight back (record_capture takes them for real, and refunds
    should they be gone by then)."""
    with transaction.atomic():
        if _cart_moved_on(payment):
            return False
        variants, slots = holds_of_payment(payment.pk)
        try:
            with transaction.atomic():
                sell_without_hold(variants=variants, slots=slots)
                raise _Probe
        except _Probe:
            return True
        except (InsufficientStock, SlotFull):
            return False


def _attempt_row(
    *,
    payment: Payment,
    attempt: GatewayAttempt,
    decision: str = AttemptDecision.NOTED,
) -> tuple[PaymentAttempt, bool] | None:
    """The attempt's row, inserted if new (one statement; a second read only when it existed). None when another sync
    is inserting it at this moment: the unique constraint refuses the second row, and where row locks are no-ops
    (SQLite) the first one may not be visible yet."""
    now = timezone.now()
    inserted = _insert_attempt(payment=payment, attempt=attempt, decision=decision, now=now)
    if inserted is None:
        existing = PaymentAttempt.objects.filter(payment=payment, gateway_payment_id=attempt.gateway_payment_id).first()
        return None if existing is None else (existing, False)
    row = PaymentAttempt(
        pk=inserted,
        payment=payment,
        gateway_payment_id=attempt.gateway_payment_id,
        gateway_status=attempt.status,
        amount=attempt.amount.value,
        currency=attempt.currency,
        decision=decision,
        created_at=now,
        updated_at=now,
    )
    return row, True


def decide_attempt(
    *,
    payment_id: int,
    attempt: GatewayAttempt,
    decision: str,
    detail: str,
    source: str,
    actor_id: int | None = None,
) -> bool:
    """Record what payfirst made of one attempt, with a timeline line, once: False when it was already decided so."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        found = _attempt_row(payment=payment, attempt=attempt, decision=decision)
        if found is None:
            return False
        row, _created = found
        if not _created:
            if row.decision == decision:
                return False
            moved = PaymentAttempt.objects.filter(pk=row.pk, decision=row.decision).update(
                decision=decision, gateway_status=attempt.status, updated_at=timezone.now()
            )
            if not moved:  # decided so by another sync at this moment
                return False
        PaymentEvent.objects.create(
            payment=payment,
            from_status=payment.status,
            to_status=payment.status,
            source=source,
            actor_id=actor_id,
            detail=detail,
            payload={"gateway_payment_id": attempt.gateway_payment_id, "attempt": str(attempt.status)},
        )
    return True


def account_for_attempts(*, payment_id: int, answer: GatewayPayment, source: str) -> None:
    """Every attempt on the order, accounted for once it is known (under the payment's row lock):
    the payment's own captured attempt is its money; a failed attempt goes on the timeline (the order stays payable,
    the payment keeps waiting); an authorisation the gateway gave back was never money; a second authorisation on a
    settled order is left uncaptured; a second CAPTURE on a paid order is refunded automatically (recorded, queued
    with this transaction), never fulfilled twice."""
    if not answer.attempts:
        return
    queued: list[int] = []
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        settled = payment.status in CAPTURED_LIKE or payment.status == S.FLAGGED
        rows = {row.gateway_payment_id: row for row in PaymentAttempt.objects.filter(payment=payment)}
        for attempt in answer.attempts:
            row = rows.get(attempt.gateway_payment_id)
            known = row if row is not None else _unseen_attempt(payment=payment, attempt=attempt)
            decision, detail = _account(
                payment=payment,
                settled=settled,
                order_open=answer.status is not GatewayStatus.FAILED,
                attempt=attempt,
                row=known,
            )
            if known.gateway_status == attempt.status and decision == known.decision:
                continue
            if not _write_decision(payment=payment, row=row, attempt=attempt, decision=decision) or not detail:
                continue
            if (
                decision == AttemptDecision.EXTRA_REFUNDED
                and known.decision != AttemptDecision.EXTRA_REFUNDED
                and attempt.amount_refunded < attempt.amount
            ):
                refund = Refund.objects.create(
                    payment=payment,
                    amount=(attempt.amount - attempt.amount_refunded).value,
                    gateway_payment_id=attempt.gateway_payment_id,
                    is_automatic=True,
                    reason=detail,
                )
                queued.append(refund.pk)
                detail = f"{detail} Refund {refund.reference} recorded and queued."
            PaymentEvent.objects.create(
                payment=payment,
                from_status=payment.status,
                to_status=payment.status,
                source=source,
                detail=detail,
                payload={"gateway_payment_id": attempt.gateway_payment_id, "attempt": str(attempt.status)},
            )
        for refund_id in queued:
            send_refund_task.enqueue(refund_id=refund_id)
    for refund_id in queued:
        logger.error(
            "ALARM a second payment was captured on a paid order; refunded automatically",
            extra={"payment_id": payment_id, "refund_id": refund_id, "alarm": "duplicate_capture"},
        )


def _unseen_attempt(*, payment: Payment, attempt: GatewayAttempt) -> PaymentAttempt:
    """An attempt first heard of, as if recorded with nothing known about it yet (not saved)."""
    return PaymentAttempt(
        payment=payment,
        gateway_payment_id=attempt.gateway_payment_id,
        gateway_status="",
        amount=attempt.amount.value,
        currency=attempt.currency,
        decision=AttemptDecision.NOTED,
    )


def _write_decision(*, payment: Payment, row: PaymentAttempt | None, attempt: GatewayAttempt, decision: str) -> bool:
    """Record the attempt's status and payfirst's decision about it, once: False when another sync recorded it first."""
    if row is not None:
        # Compare-and-set: of two syncs that learn the same thing at once, one records it (on PostgreSQL the
        # payment's row lock already queues them; this also holds where row locks are no-ops).
        return bool(
            PaymentAttempt.objects.filter(pk=row.pk, gateway_status=row.gateway_status, decision=row.decision).update(
                gateway_status=attempt.status, decision=decision, updated_at=timezone.now()
            )
        )
    # A new row is written as decided, in one INSERT; when another sync is inserting it at this moment the unique
    # constraint keeps that row, and that sync accounts for the attempt.
    inserted = _insert_attempt(payment=payment, attempt=attempt, decision=decision, now=timezone.now())
    return inserted is not None


def _account(
    *, payment: Payment, settled: bool, order_open: bool, attempt: GatewayAttempt, row: PaymentAttempt
) -> tuple[str, str]:
    """(decision, timeline line or "") for one attempt; the line only when something new is learned."""
    seen_before = row.gateway_status == attempt.status
    status = payment.status.lower()
    if attempt.status is AttemptStatus.CAPTURED:
        if settled and attempt.gateway_payment_id == payment.gateway_payment_id:
            return AttemptDecision.CAPTURED, ""
        if not settled or row.decision == AttemptDecision.EXTRA_REFUNDED:
            return row.decision, ""
        held = (attempt.amount - attempt.amount_refunded).value
        by = payment.gateway_payment_id or "another attempt"
        if held <= 0:
            return AttemptDecision.EXTRA_REFUNDED, (
                f"A second payment {attempt.gateway_payment_id} of {attempt.amount.value} paise was captured on this "
                f"order, already paid by {by}; the gateway has given it back in full."
            )
        return AttemptDecision.EXTRA_REFUNDED, (
            f"A second payment {attempt.gateway_payment_id} of {attempt.amount.value} paise was captured on this "
            f"order, already paid by {by}: refunded automatically ({held} paise), never fulfilled twice."
        )
    if attempt.status is AttemptStatus.FAILED:
        if seen_before or not order_open:  # an ended order's failure is on the timeline as the payment's own
            return row.decision, ""
        why = ": ".join(part for part in (attempt.error_code, attempt.error_description) if part) or "no reason given"
        return AttemptDecision.NOTED, (
            f"Attempt {attempt.gateway_payment_id} failed ({why}). A failed attempt is not a failed payment: the "
            f"order stays payable and the payment stays {status} until it is paid, expires or is cancelled."
        )
    if attempt.status is AttemptStatus.RETURNED:
        if seen_before and row.decision == AttemptDecision.RETURNED:
            return row.decision, ""
        return AttemptDecision.RETURNED, (
            f"Attempt {attempt.gateway_payment_id} ({attempt.amount.value} paise) was authorised and given back by "
            f"the gateway without being captured: never money received."
        )
    if attempt.status is AttemptStatus.AUTHORIZED and settled and row.decision == AttemptDecision.NOTED:
        return AttemptDecision.LEFT_UNCAPTURED, (
            f"{attempt.gateway_payment_id} authorised {attempt.amount.value} paise on an order already settled "
            f"({status}). Not captured: the gateway gives the authorisation back to the customer, without its fee."
        )
    return row.decision, ""


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
    if _cart_moved_on(payment):
        return _capture_and_refund(
            payment=payment,
            evidence=evidence,
            reason=f"Paid after the payment was {was.lower()}, when its cart had already been paid for or a newer "
            f"payment for it was open. Refunded automatically so the cart is not paid for twice.",
        )
    try:
        # A savepoint: the stock and places are taken again last (the lock order of every capture, below), and a
        # refusal undoes the capture and its fulfilment, which then becomes a capture with a refund.
        with transaction.atomic():
            _capture_and_fulfil(
                payment=payment,
                evidence=evidence,
                detail=f"Paid after the payment was {was.lower()}; its stock and places were free and were taken "
                "again.",
                consume=False,
            )
    except (InsufficientStock, SlotFull) as gone:
        payment.refresh_from_db()  # the savepoint rolled back what transition() wrote, in the row and here
        return _capture_and_refund(
            payment=payment,
            evidence=evidence,
            reason=f"Paid after the payment was {was.lower()}, and what it was for is no longer available "
            f"({gone.message}) Refunded automatically.",
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
    """The one atomic step (inside record_capture's transaction, cart and payment rows locked). `consume`: the
    payment still holds its stock and places; otherwise (a late capture) they are taken again from what is free,
    raising InsufficientStock / SlotFull when they are gone."""
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
    # The lines are read once: for the fulfilments they become and for the stock they sell.
    lines = payment_lines_for_fulfilment(payment_id=payment.pk)
    refs = fulfil(payment=payment, lines=lines)
    notify_payment_confirmed(payment=payment, lines=lines, refs=refs)  # the email, sent once this commits
    issue_capture_documents(payment=payment, lines=lines, captured_at=evidence.now)
    # The catalog rows last: every checkout of the same product or slot queues on them, so this transaction holds
    # them only for its last statements. Every capture takes them here, after the customer's row and the invoice
    # counter (which no path takes after a catalog row), so the lock order stays acyclic; the promo code's row
    # still comes after the catalog rows, as everywhere.
    variants, slots = holds_of_lines(lines)
    if consume:
        consume_holds(variants=variants)  # the payment's own reservation becomes a sale; its places stay taken
    else:
        sell_without_hold(variants=variants, slots=slots)  # a late capture: InsufficientStock / SlotFull if gone
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


def _insert_attempt(*, payment: Payment, attempt: GatewayAttempt, decision: str, now: datetime) -> int | None:
    """The attempt's row as `decision` decided it, in one INSERT; None when the payment already has its row."""
    return insert_attempt_once(
        payment_id=payment.pk,
        gateway_payment_id=attempt.gateway_payment_id,
        gateway_status=attempt.status,
        amount=attempt.amount.value,
        currency=attempt.currency,
        decision=decision,
        now=now,
    )
