"""Handing a captured payment to fulfilment: payments checks it is CAPTURED, reads its lines (payments/locks.py)
and passes plain frozen dataclasses that fulfilment owns, so fulfilment never reads payments."""

from __future__ import annotations

from payfirst.core.errors import InvalidState
from payfirst.fulfilment.selectors import FulfilmentRef
from payfirst.fulfilment.services import FulfilmentLine, PaidPayment
from payfirst.fulfilment.services import fulfil as fulfil_lines
from payfirst.payments.locks import payment_lines_for_fulfilment
from payfirst.payments.models import Payment
from payfirst.payments.statuses import PaymentStatus

__all__ = ["fulfil", "paid_payment", "payment_lines_for_fulfilment"]


def paid_payment(payment: Payment) -> PaidPayment:
    return PaidPayment(
        id=payment.pk,
        user_id=payment.user_id,
        shipping_address=payment.shipping_address,
        billing_address=payment.billing_address,
    )


def fulfil(*, payment: Payment, lines: list[FulfilmentLine] | None = None) -> list[FulfilmentRef]:
    """Fulfil a CAPTURED payment (its row locked by the caller). `lines` are its lines from
    `payment_lines_for_fulfilment` when the caller has read them already (record_capture does); otherwise they are
    read here (one query)."""
    if payment.status != PaymentStatus.CAPTURED:
        # Nothing is fulfilled without a captured payment (DESIGN.md invariant 1); the caller holds its row lock.
        raise InvalidState(f"Payment {payment.pk} is {payment.status}, not CAPTURED; nothing was fulfilled.")
    if lines is None:
        lines = payment_lines_for_fulfilment(payment_id=payment.pk)
    return fulfil_lines(payment=paid_payment(payment), lines=lines)
