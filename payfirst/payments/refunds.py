"""Sending a recorded refund to its gateway and applying the gateway's answer; the task that does it off-request.

A Refund row is written first (PENDING, with its own reference); the gateway call happens with no transaction
open, under that reference as the gateway's idempotency key, so a retry never refunds twice.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django_tasks import task

from payfirst.core.errors import InvalidState
from payfirst.core.money import Paise
from payfirst.fulfilment.cancellation import cancel_fulfilments
from payfirst.gateways.base import GatewayError, GatewayEvent
from payfirst.gateways.base import RefundStatus as GatewayRefundStatus
from payfirst.gateways.registry import get_gateway
from payfirst.ops.tasks import periodic
from payfirst.payments.errors import RefundExceedsCaptured
from payfirst.payments.invoicing import issue_refund_credit_notes
from payfirst.payments.models import Payment, PaymentEvent, Refund, RefundStatus
from payfirst.payments.notices import notify_refund_processed
from payfirst.payments.states import EventSource, PaymentStatus, transition

logger = logging.getLogger("payfirst.payments")


def send_refund(*, refund_id: int, source: str = EventSource.API) -> str:
    """Send a PENDING refund to the gateway, then record the answer. Returns the refund's status afterwards.

    Raises GatewayError when the gateway cannot answer; the refund then stays PENDING with the error noted, and
    sending it again is safe.
    """
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status != RefundStatus.PENDING or refund.gateway_refund_id:
        return refund.status
    payment = refund.payment
    # F(): concurrent senders each count their attempt; updated_at dates the attempt for the retry backoff.
    Refund.objects.filter(pk=refund.pk).update(attempts=F("attempts") + 1, updated_at=timezone.now())
    try:
        answer = get_gateway(payment.gateway).refund(
            gateway_order_id=payment.gateway_order_id,
            gateway_payment_id=payment.gateway_payment_id,
            amount=Paise(refund.amount),
            reference=refund.reference,
        )
    except GatewayError as error:
        Refund.objects.filter(pk=refund.pk).update(error=str(error)[:2000])
        logger.warning(
            "refund could not be sent; it stays pending", extra={"refund_id": refund.pk, "error": str(error)}
        )
        raise
    return apply_refund_status(
        refund_id=refund.pk, gateway_refund_id=answer.gateway_refund_id, status=answer.status, source=source
    )


def apply_refund_status(*, refund_id: int, gateway_refund_id: str, status: str, source: str) -> str:
    """Record what the gateway says about a refund, once. PROCESSED adds its amount to the payment's refunded amount
    and moves the payment to PARTIALLY_REFUNDED or REFUNDED. Locks the payment row, then the refund row."""
    with transaction.atomic():
        payment_id = Refund.objects.values_list("payment_id", flat=True).get(pk=refund_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status != RefundStatus.PENDING:
            return refund.status
        if status == GatewayRefundStatus.PROCESSED:
            processed_at = timezone.now()
            Refund.objects.filter(pk=refund.pk).update(
                status=RefundStatus.PROCESSED,
                gateway_refund_id=gateway_refund_id,
                processed_at=processed_at,
                error="",
            )
            issue_refund_credit_notes(refund=refund, processed_at=processed_at)
            refunded = payment.refunded_amount + refund.amount
            target = (
                PaymentStatus.REFUNDED
                if refunded >= refundable_base(payment=payment)
                else PaymentStatus.PARTIALLY_REFUNDED
            )
            detail = f"Refund {refund.reference} of {refund.amount} paise processed: {refund.reason}"
            if payment.status == target:
                # A second partial refund: no state change, but the amount moves and the trail says so.
                Payment.objects.filter(pk=payment.pk).update(refunded_amount=refunded)
                PaymentEvent.objects.create(
                    payment=payment, from_status=payment.status, to_status=target, source=source, detail=detail
                )
            else:
                transition(
                    payment=payment, to=target, source=source, detail=detail, fields={"refunded_amount": refunded}
                )
            notify_refund_processed(payment=payment, refund=refund, refunded_total=refunded)  # sent once committed
            logger.info("refund processed", extra={"refund_id": refund.pk, "payment_id": payment.pk})
            return RefundStatus.PROCESSED
        if status == GatewayRefundStatus.FAILED:
            Refund.objects.filter(pk=refund.pk).update(status=RefundStatus.FAILED, gateway_refund_id=gateway_refund_id)
            logger.error("refund failed at the gateway", extra={"refund_id": refund.pk, "payment_id": payment.pk})
            return RefundStatus.FAILED
        Refund.objects.filter(pk=refund.pk).update(gateway_refund_id=gateway_refund_id, error="")
        return RefundStatus.PENDING


@task(queue_name="default")
def send_refund_task(refund_id: int) -> str:
    """Send one recorded refund (automatic refunds are queued by the capture that records them)."""
    return send_refund(refund_id=refund_id, source=EventSource.RECONCILE)


# ---------------------------------------------------------------------------------------------------------------
# Requesting refunds (staff, admin, the API), polling pending ones, and refund webhooks
# ---------------------------------------------------------------------------------------------------------------

# Payments whose money was received (FLAGGED: staff decide, and refunding is one decision). A REFUNDED one was
# captured too: asking it for more is refund_exceeds_captured (nothing left), not invalid_state.
REFUNDABLE: frozenset[str] = frozenset(
    {PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED, PaymentStatus.FLAGGED}
)
# Refunds that hold part of the captured amount: a FAILED one gives its part back.
HOLDING: tuple[str, ...] = (RefundStatus.PENDING, RefundStatus.PROCESSED)
RETRY_FIRST = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)


def refundable_base(*, payment: Payment) -> int:
    """Paise that refunds may add up to: the captured amount. A FLAGGED payment was captured for what the gateway
    reported, capped at the payment's amount (the database refuses refunded_amount above it)."""
    if payment.status == PaymentStatus.FLAGGED and payment.gateway_amount is not None:
        return min(payment.amount, payment.gateway_amount)
    return payment.amount


def request_refund(
    *,
    payment_id: int,
    amount: int | None,
    reason: str,
    actor_id: int | None,
    source: str = EventSource.API,
    cancel_fulfilment: bool = False,
) -> Refund:
    """Record a PENDING refund of `amount` paise (None: the whole refundable rest), nothing sent yet; with
    `cancel_fulfilment`, also cancel what the payment fulfilled and give its stock and places back.

    Under the payment's row lock, so concurrent requests queue and the pending and processed refunds together never
    exceed the captured amount. Raises InvalidState (409) unless the payment's money was captured, and
    RefundExceedsCaptured (400) when the amount does not fit in what is left.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status not in REFUNDABLE:
            raise InvalidState(f"Payment {payment.pk} is {payment.status.lower()}: only captured money is refunded.")
        if payment.status == PaymentStatus.FLAGGED and payment.gateway_currency not in ("", payment.currency):
            raise InvalidState(
                f"Payment {payment.pk} was paid in {payment.gateway_currency}; refund it at the gateway."
            )
        held = Refund.objects.filter(payment=payment, status__in=HOLDING).aggregate(total=Sum("amount"))["total"]
        rest = refundable_base(payment=payment) - (held or 0)
        wanted = rest if amount is None else amount
        if wanted <= 0 or wanted > rest:
            raise RefundExceedsCaptured(
                f"At most {max(rest, 0)} paise of this payment can still be refunded.",
                fields={"amount": [f"At most {max(rest, 0)} paise can still be refunded."]},
            )
        refund = Refund.objects.create(
            payment=payment, amount=wanted, reason=reason, requested_by_id=actor_id, is_automatic=False
        )
        detail = f"Refund {refund.reference} of {wanted} paise requested: {reason}"
        if cancel_fulfilment:
            cancelled = cancel_fulfilments(payment_id=payment.pk)
            detail += f" Cancelled: {', '.join(cancelled) if cancelled else 'nothing left to cancel'}."
        # Not a state change yet (that comes when the refund processes), but part of the payment's story.
        PaymentEvent.objects.create(
            payment=payment,
            from_status=payment.status,
            to_status=payment.status,
            source=source,
            actor_id=actor_id,
            detail=detail,
        )
    logger.info("refund requested", extra={"refund_id": refund.pk, "payment_id": payment_id, "amount": wanted})
    return refund


def refund_payment(
    *,
    payment_id: int,
    amount: int | None,
    reason: str,
    actor_id: int | None,
    source: str = EventSource.API,
    cancel_fulfilment: bool = False,
) -> Refund:
    """Record the refund and commit, then send it with no transaction open. A gateway that cannot answer leaves the
    refund PENDING; retry_pending_refunds sends it again later under the same reference."""
    refund = request_refund(
        payment_id=payment_id,
        amount=amount,
        reason=reason,
        actor_id=actor_id,
        source=source,
        cancel_fulfilment=cancel_fulfilment,
    )
    try:
        send_refund(refund_id=refund.pk, source=source)
    except GatewayError:
        pass  # send_refund noted the error on the refund and logged it; the retry task takes it from here
    return Refund.objects.get(pk=refund.pk)


def poll_refund(*, refund_id: int, source: str, gateway_refund_id: str = "") -> str:
    """Learn a PENDING refund's outcome: one never answered is sent again (the same reference never refunds twice),
    one the gateway knows is read back with fetch_refund. Returns the refund's status; raises GatewayError."""
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status != RefundStatus.PENDING:
        return refund.status
    known_id = refund.gateway_refund_id or gateway_refund_id
    if not known_id:
        return send_refund(refund_id=refund.pk, source=source)
    payment = refund.payment
    Refund.objects.filter(pk=refund.pk).update(attempts=F("attempts") + 1, updated_at=timezone.now())
    answer = get_gateway(payment.gateway).fetch_refund(
        gateway_payment_id=payment.gateway_payment_id, gateway_refund_id=known_id, reference=refund.reference
    )
    if answer.reference and answer.reference != refund.reference:
        raise GatewayError(f"The gateway answered for refund {answer.reference}, not {refund.reference}.")
    return apply_refund_status(
        refund_id=refund.pk,
        gateway_refund_id=answer.gateway_refund_id or known_id,
        status=answer.status,
        source=source,
    )


def retry_delay(*, attempts: int) -> timedelta:
    """Backoff between tries of one refund: 30 s, 1 min, 2 min, … up to an hour."""
    return min(RETRY_FIRST * (2 ** max(attempts - 1, 0)), RETRY_MAX)


def retry_pending_refunds(*, limit: int = 100, now: datetime | None = None) -> Counter[str]:
    """Send again or poll each PENDING refund whose backoff has passed (oldest first). Counts the statuses reached
    and the gateway errors; one refund's error never stops the others."""
    now = now or timezone.now()
    outcomes: Counter[str] = Counter()
    # Longest-waiting first: those are the likeliest to be due, so refunds in a long backoff cannot starve the rest.
    candidates = Refund.objects.filter(status=RefundStatus.PENDING, updated_at__lte=now - RETRY_FIRST).order_by(
        "updated_at", "pk"
    )[: limit * 4]
    due = [refund for refund in candidates if refund.updated_at + retry_delay(attempts=refund.attempts) <= now]
    for refund in due[:limit]:
        try:
            outcomes[poll_refund(refund_id=refund.pk, source=EventSource.RECONCILE).lower()] += 1
        except GatewayError as error:
            outcomes["errors"] += 1
            logger.warning(
                "refund retry failed; tried again later", extra={"refund_id": refund.pk, "error": str(error)}
            )
    return outcomes


def refund_for_event(*, gateway: str, event: GatewayEvent) -> Refund | None:
    """The refund a verified refund webhook is about: by our reference, else by the gateway's refund id."""
    refunds = Refund.objects.filter(payment__gateway=gateway)
    if event.refund_reference:
        found = refunds.filter(reference=event.refund_reference).first()
        if found is not None:
            return found
    if event.gateway_refund_id:
        return refunds.filter(gateway_refund_id=event.gateway_refund_id).first()
    return None


@periodic(every=timedelta(minutes=2))
@task()
def retry_pending_refunds_task() -> dict[str, int]:
    """PENDING refunds: sent again when the gateway never answered, polled when it did (with backoff)."""
    return dict(retry_pending_refunds())
