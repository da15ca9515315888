"""Sending a recorded refund to its gateway and applying the gateway's answer; the task that does it off-request.

A Refund row is written first (PENDING, with its own reference); the gateway call happens with no transaction
open, under that reference as the gateway's idempotency key, so a retry never refunds twice.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet, Sum
from django.utils import timezone
from django_tasks import task
from prometheus_client import Counter as MetricCounter

from payfirst.core.errors import InvalidState
from payfirst.core.money import Paise
from payfirst.fulfilment.cancellation import cancel_fulfilments
from payfirst.gateways.base import GatewayError, GatewayEvent, GatewayRefund, GatewayRejected
from payfirst.gateways.base import RefundStatus as GatewayRefundStatus
from payfirst.gateways.registry import get_gateway
from payfirst.ops.tasks import periodic
from payfirst.payments.errors import InvalidAmount, RefundExceedsCaptured
from payfirst.payments.invoicing import issue_refund_credit_notes
from payfirst.payments.models import Payment, PaymentEvent, Refund, RefundSource, RefundStatus
from payfirst.payments.notices import notify_refund_processed
from payfirst.payments.states import EventSource, PaymentStatus, transition

logger = logging.getLogger("payfirst.payments")

# The gateways' smallest refund (Razorpay and PhonePe both refuse less than ₹1).
MIN_REFUND_PAISE = 100

PAYMENT_ALARMS = MetricCounter(
    "payfirst_payment_alarms",
    "Money-path alarms: refunds the gateway refused for good or that were given up, refunds made at the gateway "
    "outside payfirst, second captures on a paid order",
    ["alarm"],
)
ALARMS: tuple[str, ...] = ("refund_failed", "refund_given_up", "outside_refund", "duplicate_capture")
for _alarm in ALARMS:
    PAYMENT_ALARMS.labels(_alarm)  # every series exists from the start, reading 0


def alarm(name: str, message: str, **extra: object) -> None:
    """Log an alarm (ERROR, with `alarm` set for log-based alerting) and count it in the metric."""
    PAYMENT_ALARMS.labels(name).inc()
    logger.error(f"ALARM {message}", extra={"alarm": name, **extra})


def own_refunds(payment: Payment) -> QuerySet[Refund]:
    """Refunds of the payment's own captured money (not of a second payment on its order)."""
    return Refund.objects.filter(payment=payment).filter(
        Q(gateway_payment_id="") | Q(gateway_payment_id=payment.gateway_payment_id)
    )


def _is_extra(refund: Refund, payment: Payment) -> bool:
    return bool(refund.gateway_payment_id) and refund.gateway_payment_id != payment.gateway_payment_id


def send_refund(*, refund_id: int, source: str = EventSource.API) -> str:
    """Send a PENDING refund to the gateway, then record the answer. Returns the refund's status afterwards.

    A refund the gateway refuses for good (a 4xx: too small, more than is left, a payment it will not refund) becomes
    FAILED with the gateway's reason, and alarms. When the gateway cannot answer, the refund stays PENDING with the
    error noted and GatewayError is raised: sending it again is safe (same reference), and the retry task does so with
    capped backoff, giving up (FAILED, alarm) after REFUND_MAX_ATTEMPTS tries the gateway never answered.
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
            gateway_payment_id=refund.gateway_payment_id or payment.gateway_payment_id,
            amount=Paise(refund.amount),
            reference=refund.reference,
        )
    except GatewayRejected as refused:
        reason = f"The gateway refused the refund: {refused}"
        return fail_refund(refund_id=refund.pk, reason=reason, source=source, name="refund_failed")
    except GatewayError as error:
        Refund.objects.filter(pk=refund.pk).update(error=str(error)[:2000])
        attempts = Refund.objects.values_list("attempts", flat=True).get(pk=refund.pk)
        if attempts >= settings.REFUND_MAX_ATTEMPTS:
            fail_refund(
                refund_id=refund.pk,
                reason=f"Given up after {attempts} tries the gateway never answered; last error: {error}",
                source=source,
                name="refund_given_up",
            )
        else:
            logger.warning(
                "refund could not be sent; it stays pending", extra={"refund_id": refund.pk, "error": str(error)}
            )
        raise
    return apply_refund_status(
        refund_id=refund.pk, gateway_refund_id=answer.gateway_refund_id, status=answer.status, source=source
    )


def fail_refund(*, refund_id: int, reason: str, source: str, name: str) -> str:
    """End a PENDING refund as FAILED with its reason on the refund and the payment's timeline, and alarm. Its amount
    is refundable again (staff decide what next: a payment refunded at the gateway meanwhile shows that refund)."""
    with transaction.atomic():
        payment_id = Refund.objects.values_list("payment_id", flat=True).get(pk=refund_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status != RefundStatus.PENDING:
            return refund.status
        Refund.objects.filter(pk=refund.pk).update(status=RefundStatus.FAILED, error=reason[:2000])
        PaymentEvent.objects.create(
            payment=payment,
            from_status=payment.status,
            to_status=payment.status,
            source=source,
            detail=f"Refund {refund.reference} of {refund.amount} paise failed. {reason}",
        )
    alarm(name, "refund failed", refund_id=refund_id, payment_id=payment_id, reason=reason)
    return RefundStatus.FAILED


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
            return _record_processed(payment=payment, refund=refund, gateway_refund_id=gateway_refund_id, source=source)
        if status == GatewayRefundStatus.FAILED:
            reason = "The gateway reports the refund failed."
            Refund.objects.filter(pk=refund.pk).update(
                status=RefundStatus.FAILED, gateway_refund_id=gateway_refund_id, error=reason
            )
            PaymentEvent.objects.create(
                payment=payment,
                from_status=payment.status,
                to_status=payment.status,
                source=source,
                detail=f"Refund {refund.reference} of {refund.amount} paise failed. {reason}",
            )
            alarm("refund_failed", "refund failed at the gateway", refund_id=refund_id, payment_id=payment_id)
            return RefundStatus.FAILED
        Refund.objects.filter(pk=refund.pk).update(gateway_refund_id=gateway_refund_id, error="")
        return RefundStatus.PENDING


def _record_processed(*, payment: Payment, refund: Refund, gateway_refund_id: str, source: str) -> str:
    """A PENDING refund the gateway processed, under apply_refund_status's locks: the refund PROCESSED and, unless it
    gave back a second payment's money, the payment's refunded amount, status, credit notes and email."""
    processed_at = timezone.now()
    Refund.objects.filter(pk=refund.pk).update(
        status=RefundStatus.PROCESSED, gateway_refund_id=gateway_refund_id, processed_at=processed_at, error=""
    )
    if _is_extra(refund, payment):
        # A second payment's money given back: the payment's own refunded amount and status do not move.
        PaymentEvent.objects.create(
            payment=payment,
            from_status=payment.status,
            to_status=payment.status,
            source=source,
            detail=f"Refund {refund.reference} of {refund.amount} paise of {refund.gateway_payment_id} "
            f"processed: {refund.reason}",
        )
        return RefundStatus.PROCESSED
    issue_refund_credit_notes(refund=refund, processed_at=processed_at)
    # Capped at the amount (the database refuses more): a FLAGGED payment may have been paid more than it.
    refunded = min(payment.refunded_amount + refund.amount, payment.amount)
    target = (
        PaymentStatus.REFUNDED if refunded >= refundable_base(payment=payment) else PaymentStatus.PARTIALLY_REFUNDED
    )
    detail = f"Refund {refund.reference} of {refund.amount} paise processed: {refund.reason}"
    if payment.status == target:
        # A second partial refund: no state change, but the amount moves and the trail says so.
        Payment.objects.filter(pk=payment.pk).update(refunded_amount=refunded)
        PaymentEvent.objects.create(
            payment=payment, from_status=payment.status, to_status=target, source=source, detail=detail
        )
    else:
        transition(payment=payment, to=target, source=source, detail=detail, fields={"refunded_amount": refunded})
    notify_refund_processed(payment=payment, refund=refund, refunded_total=refunded)  # sent once committed
    logger.info("refund processed", extra={"refund_id": refund.pk, "payment_id": payment.pk})
    return RefundStatus.PROCESSED


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
        held = own_refunds(payment).filter(status__in=HOLDING).aggregate(total=Sum("amount"))["total"]
        rest = refundable_base(payment=payment) - (held or 0)
        wanted = rest if amount is None else amount
        if wanted <= 0 or wanted > rest:
            raise RefundExceedsCaptured(
                f"At most {max(rest, 0)} paise of this payment can still be refunded.",
                fields={"amount": [f"At most {max(rest, 0)} paise can still be refunded."]},
            )
        if wanted < MIN_REFUND_PAISE:
            raise InvalidAmount(
                f"The gateways refund at least {MIN_REFUND_PAISE} paise; {wanted} paise is below that.",
                fields={"amount": [f"At least {MIN_REFUND_PAISE} paise."]},
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
    """Backoff between tries of one refund: REFUND_RETRY_FIRST_SECONDS (30 s), doubling, capped at
    REFUND_RETRY_MAX_SECONDS (an hour)."""
    first = timedelta(seconds=settings.REFUND_RETRY_FIRST_SECONDS)
    cap = timedelta(seconds=settings.REFUND_RETRY_MAX_SECONDS)
    return min(first * (2 ** min(max(attempts - 1, 0), 32)), cap)


def retry_pending_refunds(*, limit: int = 100, now: datetime | None = None) -> Counter[str]:
    """Send again or poll each PENDING refund whose backoff has passed (oldest first). Counts the statuses reached
    and the gateway errors; one refund's error never stops the others."""
    now = now or timezone.now()
    outcomes: Counter[str] = Counter()
    # Longest-waiting first: those are the likeliest to be due, so refunds in a long backoff cannot starve the rest.
    first = timedelta(seconds=settings.REFUND_RETRY_FIRST_SECONDS)
    candidates = Refund.objects.filter(status=RefundStatus.PENDING, updated_at__lte=now - first).order_by(
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
    """The refund a verified refund webhook is about: by our reference, else by the gateway's refund id. A refund
    payfirst does not know, on a payment it does, was made at the gateway (its dashboard): the gateway is asked for
    the payment's refunds (Razorpay lists them; PhonePe answers for the refund id the callback names), what it holds
    is recorded (source gateway, with an alarm) and the refund is returned. Raises GatewayError when the gateway
    cannot answer (the delivery is then processed again)."""
    refunds = Refund.objects.filter(payment__gateway=gateway)
    if event.refund_reference:
        found = refunds.filter(reference=event.refund_reference).first()
        if found is not None:
            return found
    if event.gateway_refund_id:
        found = refunds.filter(gateway_refund_id=event.gateway_refund_id).first()
        if found is not None:
            return found
    payment = _payment_for_refund_event(gateway=gateway, event=event)
    if payment is None or payment.status not in REFUNDABLE or not event.gateway_refund_id:
        return None
    adapter = get_gateway(gateway)
    listed = adapter.list_refunds(
        gateway_order_id=payment.gateway_order_id, gateway_payment_id=payment.gateway_payment_id
    )
    if listed is None:
        one = adapter.fetch_refund(
            gateway_payment_id=payment.gateway_payment_id, gateway_refund_id=event.gateway_refund_id, reference=""
        )
        order = one.raw.get("originalMerchantOrderId")
        listed = [one] if order in (None, payment.gateway_order_id) else []
    record_gateway_refunds(payment_id=payment.pk, refunds=listed, source=EventSource.WEBHOOK)
    return refunds.filter(payment=payment, gateway_refund_id=event.gateway_refund_id).first()


def _payment_for_refund_event(*, gateway: str, event: GatewayEvent) -> Payment | None:
    payments = Payment.objects.filter(gateway=gateway)
    if event.gateway_payment_id:
        found = payments.filter(gateway_payment_id=event.gateway_payment_id).first()
        if found is not None:
            return found
    if event.gateway_order_id:
        return payments.filter(gateway_order_id=event.gateway_order_id).first()
    return None


def _matches(ours: Refund, theirs: GatewayRefund) -> bool:
    if ours.gateway_refund_id and ours.gateway_refund_id == theirs.gateway_refund_id:
        return True
    # A refund payfirst gave up on (FAILED) that the gateway did make after all is recorded as the gateway's own.
    return bool(theirs.reference) and ours.reference == theirs.reference and ours.status != RefundStatus.FAILED


def record_gateway_refunds(*, payment_id: int, refunds: Iterable[GatewayRefund], source: str) -> list[int]:
    """Make payfirst's books equal the gateway's for the payment's own captured money. Under the payment's row lock:
    a gateway refund payfirst knows (by its id or our reference) has its status applied when still PENDING here; one
    it does not know was made outside payfirst and is recorded (source gateway) and applied, so the payment moves to
    PARTIALLY_REFUNDED / REFUNDED and a later staff refund sees only the rest; each such one alarms. A refund that
    failed at the gateway moved no money and is not recorded. Returns the ids of the refunds recorded new."""
    recorded: list[int] = []
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status not in REFUNDABLE:
            return []
        known = list(own_refunds(payment))
        to_apply: list[tuple[int, GatewayRefund]] = []
        for theirs in refunds:
            ours = next((refund for refund in known if _matches(refund, theirs)), None)
            if ours is None:
                if theirs.status is GatewayRefundStatus.FAILED:
                    continue
                ours = Refund.objects.create(
                    payment=payment,
                    amount=theirs.amount.value,
                    source=RefundSource.GATEWAY,
                    gateway_refund_id=theirs.gateway_refund_id,
                    reason=f"Refunded at the gateway, outside payfirst ({theirs.gateway_refund_id}).",
                )
                PaymentEvent.objects.create(
                    payment=payment,
                    from_status=payment.status,
                    to_status=payment.status,
                    source=source,
                    detail=f"A refund of {theirs.amount.value} paise made at the gateway outside payfirst "
                    f"({theirs.gateway_refund_id}) was found and recorded as refund {ours.reference}.",
                    payload={"gateway_refund": dict(theirs.raw)},
                )
                known.append(ours)
                recorded.append(ours.pk)
                to_apply.append((ours.pk, theirs))
            elif ours.status == RefundStatus.PENDING and theirs.status is not GatewayRefundStatus.PENDING:
                to_apply.append((ours.pk, theirs))
        for refund_id, theirs in to_apply:
            apply_refund_status(
                refund_id=refund_id, gateway_refund_id=theirs.gateway_refund_id, status=theirs.status, source=source
            )
    for refund_id in recorded:
        alarm(
            "outside_refund",
            "a refund was made at the gateway outside payfirst",
            refund_id=refund_id,
            payment_id=payment_id,
        )
    return recorded


def unknown_gateway_refunds(*, payment: Payment, refunds: Iterable[GatewayRefund]) -> list[GatewayRefund]:
    """The gateway's refunds payfirst has not recorded (read-only: what a dry run reports)."""
    known = list(own_refunds(payment))
    return [
        theirs
        for theirs in refunds
        if theirs.status is not GatewayRefundStatus.FAILED and not any(_matches(ours, theirs) for ours in known)
    ]


@periodic(every=timedelta(minutes=2))
@task()
def retry_pending_refunds_task() -> dict[str, int]:
    """PENDING refunds: sent again when the gateway never answered, polled when it did (with backoff)."""
    return dict(retry_pending_refunds())
