"""Caps on what one customer may hold at once, checked by checkout before a payment reserves anything: live
(PENDING) payments per customer, and places held in one slot per customer (PAYMENTS_MAX_PENDING_PER_CUSTOMER,
PAYMENTS_MAX_SLOT_HOLDS_PER_CUSTOMER; 0 turns a cap off).

Called inside checkout's transaction after the cart row is locked and the cart's own pending payment has been
superseded, so that payment does not count against its replacement. A customer's checkouts go through their one
active cart, whose row lock queues them, so two at once cannot both pass a cap.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from django.conf import settings

from payfirst.core.errors import AppError
from payfirst.payments.models import Payment, ReservationState
from payfirst.payments.states import PaymentStatus


class TooManyPendingPayments(AppError):
    code, status = "too_many_pending_payments", 409


class SlotHoldLimit(AppError):
    code, status = "slot_hold_limit", 409


def check_checkout_limits(*, user_id: int, slots: Mapping[int, int]) -> None:
    """Raise unless one more pending payment holding `slots` ({slot id: places}) stays within the caps. One query:
    the lines of the customer's pending payments (a handful, since the cap bounds how many there are)."""
    max_pending, max_places = settings.PAYMENTS_MAX_PENDING_PER_CUSTOMER, settings.PAYMENTS_MAX_SLOT_HOLDS_PER_CUSTOMER
    if max_pending <= 0 and (max_places <= 0 or not slots):
        return
    rows = Payment.objects.filter(user_id=user_id, status=PaymentStatus.PENDING).values_list(
        "pk", "reservation", "lines__slot_id", "lines__quantity"
    )
    pending: set[int] = set()
    held: Counter[int] = Counter()
    for payment_id, reservation, slot_id, quantity in rows:
        pending.add(payment_id)
        if reservation == ReservationState.HELD and slot_id in slots:
            held[slot_id] += quantity
    if 0 < max_pending <= len(pending):
        raise TooManyPendingPayments(
            f"You already have {len(pending)} payments waiting to be paid (the most is {max_pending}). "
            "Pay or cancel one of them, or wait for it to expire."
        )
    if max_places <= 0:
        return
    for slot_id, places in slots.items():
        total = held[slot_id] + places
        if total > max_places:
            raise SlotHoldLimit(
                f"That would hold {total} places in one slot for you; the most is {max_places} at a time."
            )
