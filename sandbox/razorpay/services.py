"""Razorpay writes: create an order, pay it from the hosted checkout, capture, refund, and the gateway's own later work
(refunds settling, uncaptured authorisations auto-refunded, late authorisations), run as jobs by the delivery loop.
Each change and its webhooks commit together; double payment, double capture and over-refunding are stopped by row
locks plus conditional UPDATEs, never by a Python check alone."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from sandbox import ids
from sandbox.clock import scaled, schedule
from sandbox.errors import RAZORPAY_NOT_FOUND, RazorpayApiError, razorpay_invalid
from sandbox.faults import armed_kinds, take_fault
from sandbox.models import Fault, Job, RazorpayOrder, RazorpayPayment, RazorpayRefund
from sandbox.razorpay.selectors import envelope, order_entity, payment_entity, refund_entity
from sandbox.signing import razorpay_checkout_signature
from sandbox.webhooks import OutgoingEvent, emit

logger = logging.getLogger(__name__)

GATEWAY = "razorpay"
CURRENCIES = frozenset({"INR"})
ORDER_FIELDS = frozenset(
    {"amount", "currency", "receipt", "notes", "partial_payment", "first_payment_min_amount", "payment_capture"}
)
CAPTURE_FIELDS = frozenset({"amount", "currency"})
REFUND_FIELDS = frozenset({"amount", "speed", "notes", "receipt"})
MIN_AMOUNT = 100  # paise: "The amount must be at least INR 1.00"
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{10,64}$")


# Validation, in Razorpay's words ---------------------------------------------------------------------------------


def _object(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise razorpay_invalid("The request body must be a JSON object.")
    return data


def _reject_extra(data: Mapping[str, Any], allowed: frozenset[str]) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise razorpay_invalid(f"{', '.join(extra)} is/are not required and should not be sent", field=extra[0])


def _amount(value: Any, *, field: str = "amount") -> int:
    if value is None:
        raise razorpay_invalid(f"The {field} field is required.", field=field)
    if isinstance(value, bool) or not isinstance(value, int):
        raise razorpay_invalid(f"The {field} must be an integer.", field=field)
    if value < MIN_AMOUNT:
        raise razorpay_invalid(f"The {field} must be at least INR 1.00", field=field)
    return value


def _receipt(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise razorpay_invalid("The receipt must be a string.", field="receipt")
    if len(value) > 40:
        raise razorpay_invalid("The receipt may not be greater than 40 characters.", field="receipt")
    return value


def _notes(value: Any) -> dict[str, Any]:
    if value is None or value == []:
        return {}
    if not isinstance(value, Mapping):
        raise razorpay_invalid("The notes must be an object of key-value pairs.", field="notes")
    if len(value) > 15:
        raise razorpay_invalid("The notes may not have more than 15 items.", field="notes")
    for key, item in value.items():
        if isinstance(item, (Mapping, list)) or len(str(item)) > 256:
            raise razorpay_invalid(f"The notes.{key} must be text of at most 256 characters.", field="notes")
    return dict(value)


def _auto_capture(value: Any) -> bool:
    if value is None:
        return True
    if value in (0, 1, "0", "1") or isinstance(value, bool):
        return bool(int(value))
    raise razorpay_invalid("The payment_capture must be 0 or 1.", field="payment_capture")


# Orders --------------------------------------------------------------------------------------------------------


def create_order(*, data: Any) -> RazorpayOrder:
    data = _object(data)
    _reject_extra(data, ORDER_FIELDS)
    amount = _amount(data.get("amount"))
    currency = data.get("currency")
    if currency is None:
        raise razorpay_invalid("The currency field is required.", field="currency")
    if currency not in CURRENCIES:
        raise razorpay_invalid("The selected currency is invalid.", field="currency")
    # A manual_capture fault makes this order manual-capture whatever was asked: its payments stay authorized and
    # are auto-refunded after the fault's delay_seconds (or SANDBOX_AUTO_REFUND_SECONDS).
    manual = take_fault(gateway=GATEWAY, kind=Fault.Kind.MANUAL_CAPTURE)
    return RazorpayOrder.objects.create(
        id=ids.razorpay_id("order"),
        amount=amount,
        currency=currency,
        receipt=_receipt(data.get("receipt")),
        notes=_notes(data.get("notes")),
        auto_capture=_auto_capture(data.get("payment_capture")) and manual is None,
        auto_refund_seconds=manual.delay_seconds if manual else None,
    )


@dataclass(frozen=True)
class CheckoutResult:
    payment: RazorpayPayment
    signature: str | None  # set when the payment succeeded


def pay_order(*, order_id: str, outcome: str, customer: Mapping[str, str] | None = None) -> CheckoutResult:
    """The hosted checkout's Pay (outcome "success") or Fail ("failure") button: one payment attempt on the order.

    Success authorizes a payment for the order amount and, unless the order is manual-capture, captures it at once
    and marks the order paid: payment.authorized, payment.captured, order.paid. A manual-capture authorisation left
    uncaptured is auto-refunded after SANDBOX_AUTO_REFUND_SECONDS. Failure sends payment.failed; the order stays
    open for another attempt. Armed faults: late_authorization (this Pay fails now and is authorised later),
    duplicate_payment (a second payment lands on the order once it is paid and is auto-refunded at once). A paid
    order takes no further attempts (its row is locked, and the paid transition is a conditional UPDATE).
    """
    if outcome not in ("success", "failure"):
        raise razorpay_invalid("The outcome must be success or failure.", field="outcome")
    with transaction.atomic():
        order = RazorpayOrder.objects.select_for_update().filter(pk=order_id).first()
        if order is None:
            raise RazorpayApiError(RAZORPAY_NOT_FOUND)
        if order.status == RazorpayOrder.Status.PAID:
            raise RazorpayApiError("This order has already been paid.", field="order_id")
        RazorpayOrder.objects.filter(pk=order.pk).update(
            attempts=F("attempts") + 1, status=RazorpayOrder.Status.ATTEMPTED
        )
        order.refresh_from_db()
        armed = armed_kinds(gateway=GATEWAY)
        late = (
            take_fault(gateway=GATEWAY, kind=Fault.Kind.LATE_AUTHORIZATION, armed=armed)
            if outcome == "success"
            else None
        )
        if outcome == "failure" or late:
            payment = _failed_payment(order, customer or {})
            emit(gateway=GATEWAY, events=[_payment_event("payment.failed", payment)])
            if late:
                # The bank answers later: the failed payment is authorised (and captured, with auto-capture).
                schedule(
                    kind=Job.Kind.RAZORPAY_LATE_AUTHORIZATION,
                    subject=payment.id,
                    after=scaled(float(late.delay_seconds or settings.SANDBOX_LATE_AUTH_SECONDS)),
                )
            return CheckoutResult(payment=payment, signature=None)
        payment = _authorized_payment(order, customer or {})
        events = [_payment_event("payment.authorized", payment)]
        if order.auto_capture:
            events += _capture(payment=payment, order=order)
            if take_fault(gateway=GATEWAY, kind=Fault.Kind.DUPLICATE_PAYMENT, armed=armed):
                events += _duplicate_payment(order)
        else:
            _schedule_auto_refund(payment, order)
        emit(gateway=GATEWAY, events=events)
    logger.info("sandbox razorpay payment %s on %s: %s", payment.id, order.id, payment.status)
    return CheckoutResult(payment=payment, signature=checkout_signature(payment))


def checkout_signature(payment: RazorpayPayment) -> str:
    return razorpay_checkout_signature(
        key_secret=settings.RAZORPAY_KEY_SECRET, order_id=payment.order_id, payment_id=payment.id
    )


def _customer(customer: Mapping[str, str]) -> dict[str, str]:
    """The email and contact the customer gave Checkout, where given (the payment entity carries them)."""
    limits = {"email": 254, "contact": 20}
    return {key: customer[key][:limit] for key, limit in limits.items() if customer.get(key)}


def _failed_payment(order: RazorpayOrder, customer: Mapping[str, str]) -> RazorpayPayment:
    return RazorpayPayment.objects.create(
        id=ids.razorpay_id("pay"),
        order=order,
        amount=order.amount,
        currency=order.currency,
        status=RazorpayPayment.Status.FAILED,
        created_at=timezone.now(),
        error_code="BAD_REQUEST_ERROR",
        error_description="Payment failed",
        error_source="bank",
        error_step="payment_authorization",
        error_reason="payment_failed",
        **_customer(customer),
    )


def _authorized_payment(order: RazorpayOrder, customer: Mapping[str, str]) -> RazorpayPayment:
    return RazorpayPayment.objects.create(
        id=ids.razorpay_id("pay"),
        order=order,
        amount=order.amount,
        currency=order.currency,
        status=RazorpayPayment.Status.AUTHORIZED,
        created_at=timezone.now(),
        **_customer(customer),
    )


def _schedule_auto_refund(payment: RazorpayPayment, order: RazorpayOrder) -> None:
    window = order.auto_refund_seconds or float(settings.SANDBOX_AUTO_REFUND_SECONDS)
    schedule(kind=Job.Kind.RAZORPAY_AUTO_REFUND, subject=payment.id, after=scaled(window))


def _duplicate_payment(order: RazorpayOrder) -> list[OutgoingEvent]:
    """A second payment on an order that is already paid (a second tab, a retried UPI collect): Razorpay authorises
    it and refunds it at once, uncaptured."""
    payment = _authorized_payment(order, {})
    events = [_payment_event("payment.authorized", payment)]
    return events + _refund_uncaptured(payment)


def _refund_uncaptured(payment: RazorpayPayment) -> list[OutgoingEvent]:
    """An authorised, uncaptured payment refunded in full by Razorpay itself: status refunded, captured false (that
    money was never received). Inside the caller's transaction; a payment that moved on is left alone."""
    if not RazorpayPayment.objects.filter(pk=payment.pk, status=RazorpayPayment.Status.AUTHORIZED).update(
        status=RazorpayPayment.Status.REFUNDED, amount_refunded=payment.amount
    ):
        return []
    payment.refresh_from_db()
    refund = RazorpayRefund.objects.create(
        id=ids.razorpay_id("rfnd"),
        payment=payment,
        amount=payment.amount,
        currency=payment.currency,
        status=RazorpayRefund.Status.PROCESSED,
        processed_at=timezone.now(),
        notes={"reason": "auto_refund"},
    )
    return [_refund_event("refund.created", refund, payment), _refund_event("refund.processed", refund, payment)]


def auto_refund(payment_id: str) -> str:
    """The auto-refund window ran out: an authorised payment still uncaptured is refunded by Razorpay."""
    with transaction.atomic():
        payment = RazorpayPayment.objects.select_for_update().filter(pk=payment_id).first()
        if payment is None or payment.status != RazorpayPayment.Status.AUTHORIZED:
            return "not authorized"
        emit(gateway=GATEWAY, events=_refund_uncaptured(payment))
    return "auto-refunded"


def authorize_late(payment_id: str) -> str:
    """A failed payment authorised later by the bank: payment.authorized, then (auto-capture) payment.captured and
    order.paid. If the order was paid meanwhile by another payment, this one is a duplicate and refunded at once."""
    with transaction.atomic():
        payment = RazorpayPayment.objects.select_for_update().filter(pk=payment_id).first()
        if payment is None or payment.status != RazorpayPayment.Status.FAILED:
            return "not failed"
        order = RazorpayOrder.objects.select_for_update().get(pk=payment.order_id)
        RazorpayPayment.objects.filter(pk=payment.pk, status=RazorpayPayment.Status.FAILED).update(
            status=RazorpayPayment.Status.AUTHORIZED,
            error_code="",
            error_description="",
            error_source="",
            error_step="",
            error_reason="",
        )
        payment.refresh_from_db()
        events = [_payment_event("payment.authorized", payment)]
        if order.status == RazorpayOrder.Status.PAID:
            events += _refund_uncaptured(payment)
        elif order.auto_capture:
            events += _capture(payment=payment, order=order)
        else:
            _schedule_auto_refund(payment, order)
        emit(gateway=GATEWAY, events=events)
    return payment.status


def _payment_event(name: str, payment: RazorpayPayment) -> OutgoingEvent:
    # The payload is a snapshot at event time: payment.authorized says "authorized" even if captured a moment later.
    return OutgoingEvent(name=name, subject=payment.id, document=envelope(name, {"payment": payment_entity(payment)}))


def _capture(*, payment: RazorpayPayment, order: RazorpayOrder) -> list[OutgoingEvent]:
    """Capture an authorized payment and mark its order paid, inside the caller's transaction."""
    now = timezone.now()
    if not RazorpayPayment.objects.filter(pk=payment.pk, status=RazorpayPayment.Status.AUTHORIZED).update(
        status=RazorpayPayment.Status.CAPTURED, is_captured=True, captured_at=now
    ):
        raise RazorpayApiError("This payment has already been captured", field="payment_id")
    if (
        not RazorpayOrder.objects.filter(pk=order.pk, amount_paid=0)
        .exclude(status=RazorpayOrder.Status.PAID)
        .update(status=RazorpayOrder.Status.PAID, amount_paid=payment.amount)
    ):
        raise RazorpayApiError("This order has already been paid.", field="order_id")
    payment.refresh_from_db()
    order.refresh_from_db()
    return [
        _payment_event("payment.captured", payment),
        OutgoingEvent(
            name="order.paid",
            subject=order.id,
            document=envelope("order.paid", {"payment": payment_entity(payment), "order": order_entity(order)}),
        ),
    ]


def capture_payment(*, payment_id: str, data: Any) -> RazorpayPayment:
    """POST /v1/payments/{id}/capture: only an `authorized` payment, and only for exactly its amount."""
    data = _object(data)
    _reject_extra(data, CAPTURE_FIELDS)
    amount = _amount(data.get("amount"))
    currency = data.get("currency")
    if currency is not None and currency not in CURRENCIES:
        raise razorpay_invalid("The selected currency is invalid.", field="currency")
    with transaction.atomic():
        payment = RazorpayPayment.objects.select_for_update().filter(pk=payment_id).first()
        if payment is None:
            raise RazorpayApiError(RAZORPAY_NOT_FOUND)
        if payment.is_captured:
            raise RazorpayApiError("This payment has already been captured", field="payment_id")
        if payment.status != RazorpayPayment.Status.AUTHORIZED:
            raise RazorpayApiError(
                "Only payments which have been authorized and not yet captured can be captured", field="payment_id"
            )
        if amount != payment.amount or (currency is not None and currency != payment.currency):
            raise razorpay_invalid("Capture amount must be equal to the amount authorized", field="amount")
        order = RazorpayOrder.objects.select_for_update().get(pk=payment.order_id)
        emit(gateway=GATEWAY, events=_capture(payment=payment, order=order))
    return payment


# Refunds -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefundResult:
    refund: RazorpayRefund
    created: bool  # False when an earlier refund with the same X-Refund-Idempotency key was returned


def refund_payment(*, payment_id: str, data: Any, idempotency_key: str | None = None) -> RefundResult:
    """POST /v1/payments/{id}/refund. Only a captured payment, and never more than it has left unrefunded.

    As Razorpay documents `X-Refund-Idempotency`: the same key with the same body returns the first refund; the same
    key with another body is refused; without a key every request is a new refund (receipts are not unique). A
    unique constraint on (payment, key) backs this under concurrency.
    """
    data = _object(data)
    _reject_extra(data, REFUND_FIELDS)
    if idempotency_key is not None and not IDEMPOTENCY_KEY.match(idempotency_key):
        raise razorpay_invalid(
            "The X-Refund-Idempotency header must be 10 to 64 characters of letters, digits, _ or -.",
            field="X-Refund-Idempotency",
        )
    amount = None if data.get("amount") is None else _amount(data.get("amount"))
    receipt = _receipt(data.get("receipt"))
    notes = _notes(data.get("notes"))
    speed = data.get("speed") or "normal"
    if speed not in ("normal", "optimum"):
        raise razorpay_invalid("The selected speed is invalid.", field="speed")
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    try:
        with transaction.atomic():
            payment = RazorpayPayment.objects.select_for_update().filter(pk=payment_id).first()
            if payment is None:
                raise RazorpayApiError(RAZORPAY_NOT_FOUND)
            existing = _refund_for_key(payment_id=payment.pk, key=idempotency_key, digest=digest)
            if existing is not None:
                return RefundResult(refund=existing, created=False)
            refund = _new_refund(
                payment=payment,
                amount=amount,
                receipt=receipt,
                notes=notes,
                speed=speed,
                idempotency_key=idempotency_key,
                digest=digest,
            )
    except IntegrityError:
        # A concurrent request with the same key won the unique constraint: its refund is the answer.
        existing = _refund_for_key(payment_id=payment_id, key=idempotency_key, digest=digest)
        if existing is None:
            raise
        return RefundResult(refund=existing, created=False)
    logger.info("sandbox razorpay refund %s of %s", refund.id, payment_id)
    return RefundResult(refund=refund, created=True)


def _refund_for_key(*, payment_id: str, key: str | None, digest: str) -> RazorpayRefund | None:
    if key is None:
        return None
    existing = RazorpayRefund.objects.filter(payment_id=payment_id, idempotency_key=key).first()
    if existing is not None and existing.request_digest != digest:
        raise razorpay_invalid(
            "The X-Refund-Idempotency key was already used with a different request.", field="X-Refund-Idempotency"
        )
    return existing


def _new_refund(
    *,
    payment: RazorpayPayment,
    amount: int | None,
    receipt: str | None,
    notes: dict[str, Any],
    speed: str,
    idempotency_key: str | None,
    digest: str,
) -> RazorpayRefund:
    if not payment.is_captured:
        raise RazorpayApiError("Only captured payments can be refunded", field="payment_id")
    left = payment.amount - payment.amount_refunded
    if left <= 0:
        raise RazorpayApiError("The payment has been fully refunded already", field="payment_id")
    amount = left if amount is None else amount
    if amount > left:
        raise razorpay_invalid("The refund amount provided is greater than amount captured", field="amount")
    refunded = payment.amount_refunded + amount
    status = RazorpayPayment.Status.REFUNDED if refunded == payment.amount else payment.status
    # Compare-and-set on the amount already refunded: with the row lock this is belt and braces, and it is what keeps
    # the sum of refunds within the payment on a database where the lock is a no-op.
    if not RazorpayPayment.objects.filter(pk=payment.pk, amount_refunded=payment.amount_refunded).update(
        amount_refunded=refunded, status=status
    ):
        raise RazorpayApiError("The payment changed while refunding; retry.", status=409)
    refund = RazorpayRefund.objects.create(
        id=ids.razorpay_id("rfnd"),
        payment=payment,
        amount=amount,
        currency=payment.currency,
        receipt=receipt,
        notes=notes,
        speed_requested=speed,
        idempotency_key=idempotency_key,
        request_digest=digest,
        # Taken inside this transaction: a refused or rolled-back refund gives the use back.
        settles_failed=take_fault(gateway=GATEWAY, kind=Fault.Kind.REFUND_FAILURE) is not None,
    )
    payment.refresh_from_db()
    emit(gateway=GATEWAY, events=[_refund_event("refund.created", refund, payment)])
    schedule(
        kind=Job.Kind.RAZORPAY_REFUND_SETTLE,
        subject=refund.id,
        after=scaled(float(settings.SANDBOX_REFUND_SETTLE_SECONDS)),
    )
    return refund


def _refund_event(name: str, refund: RazorpayRefund, payment: RazorpayPayment) -> OutgoingEvent:
    return OutgoingEvent(
        name=name,
        subject=refund.id,
        document=envelope(name, {"refund": refund_entity(refund), "payment": payment_entity(payment)}),
    )


def settle_refund(refund_id: str) -> str:
    """A pending refund settles a few seconds later (Razorpay's bank leg): processed, with refund.processed; or, when
    a refund_failure fault was taken at its creation, failed, with refund.failed. A failed refund gives its amount
    back to the payment, so the payment's amount_refunded is what it was before the refund."""
    refund = RazorpayRefund.objects.filter(pk=refund_id).first()
    if refund is None:
        return "unknown refund"
    if refund.settles_failed:
        return _fail_refund(refund_id=refund_id, payment_id=refund.payment_id)
    with transaction.atomic():
        if not RazorpayRefund.objects.filter(pk=refund_id, status=RazorpayRefund.Status.PENDING).update(
            status=RazorpayRefund.Status.PROCESSED, processed_at=timezone.now()
        ):
            return "already settled"
        refund = RazorpayRefund.objects.select_related("payment").get(pk=refund_id)
        emit(gateway=GATEWAY, events=[_refund_event("refund.processed", refund, refund.payment)])
    return "processed"


def _fail_refund(*, refund_id: str, payment_id: str) -> str:
    """pending -> failed, and the payment's refunded total drops by the refund's amount, in one transaction. The
    payment row is locked first (as refund_payment locks it), and the refund moves only from pending, so a task that
    runs twice gives the amount back once."""
    with transaction.atomic():
        payment = RazorpayPayment.objects.select_for_update().get(pk=payment_id)
        if not RazorpayRefund.objects.filter(pk=refund_id, status=RazorpayRefund.Status.PENDING).update(
            status=RazorpayRefund.Status.FAILED
        ):
            return "already settled"
        refund = RazorpayRefund.objects.get(pk=refund_id)
        # Only a captured payment was refundable, so with part of its refunds given back it reads captured again.
        # The pending refund is inside amount_refunded; the column's non-negative check backs that up.
        RazorpayPayment.objects.filter(pk=payment.pk).update(
            amount_refunded=F("amount_refunded") - refund.amount, status=RazorpayPayment.Status.CAPTURED
        )
        payment.refresh_from_db()
        emit(gateway=GATEWAY, events=[_refund_event("refund.failed", refund, payment)])
    logger.info(
        "sandbox razorpay refund failed", extra={"gateway_payment_id": payment_id, "gateway_refund_id": refund_id}
    )
    return "failed"
