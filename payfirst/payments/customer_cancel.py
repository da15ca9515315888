"""A customer cancelling their own booking or subscription (API.md: bookings/{id}/cancel, subscriptions/{id}/cancel).

In one transaction, under the payment's row lock: the fulfilment is cancelled by a conditional UPDATE from its open
status, a booking's slot place is given back, and the refund its rule allows is recorded (PENDING). After the commit
the refund is sent with no transaction open; a gateway that cannot answer leaves it PENDING for the retry task.

The rules (docs/storefront.md, "Cancelling"):
- a booking until `Service.cancel_cutoff_hours` before its slot starts; refunded `Service.cancel_refund_bp` of its
  total (basis points, rounded down to the paisa); after the cut-off 409 `cancellation_closed`;
- a subscription while ACTIVE: one that has not started yet is refunded in full, a running one for its unused
  whole days (total x days left // days in the period);
- a refund below the gateways' minimum (100 paise) is not made; cancelling again answers the cancelled object.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from payfirst.cart.pricing import slot_starts_at
from payfirst.catalog.inventory import change_holds
from payfirst.core.errors import AppError, InvalidState, NotFound
from payfirst.core.models import MAX_ID
from payfirst.fulfilment.models import Booking, BookingStatus, Subscription, SubscriptionStatus
from payfirst.fulfilment.selectors import get_booking, subscriptions_for_user
from payfirst.gateways.base import GatewayError
from payfirst.payments.models import Payment, PaymentEvent, Refund
from payfirst.payments.refunds import HOLDING, refundable_base, request_refund, send_refund
from payfirst.payments.states import EventSource

logger = logging.getLogger("payfirst.payments")

MIN_REFUND = 100  # paise: both gateways refuse less
FULL_BP = 10_000


class CancellationClosed(AppError):
    code, status = "cancellation_closed", 409
    message = "This booking can no longer be cancelled."


@dataclass(frozen=True)
class Cancelled:
    """What a cancellation did: the object as it is now, and the refund recorded for it (None: none was due)."""

    fulfilment: Any
    refund: Refund | None


def booking_refund_amount(*, total: int, refund_bp: int) -> int:
    """A booking's refund under its service's rule: `refund_bp` basis points of `total`, rounded down."""
    return total * refund_bp // FULL_BP


def subscription_refund_amount(*, subscription: Subscription, now: datetime) -> int:
    """Not started: all of it. Running: the unused whole days' share, rounded down. Ended: nothing."""
    if subscription.starts_at >= now:
        return subscription.total
    period_days = max((subscription.ends_at - subscription.starts_at).days, 1)
    days_left = max((subscription.ends_at - now).days, 0)
    return subscription.total * min(days_left, period_days) // period_days


def cancel_booking(*, user: Any, booking_id: int, now: datetime | None = None) -> Cancelled:
    """Cancel one of `user`'s CONFIRMED bookings before its service's cut-off, give its place back and refund it.
    Another user's booking is NotFound; a cancelled one is answered as it is; a completed one is InvalidState."""
    now = now or timezone.now()
    booking = get_booking(user=user, booking_id=booking_id)
    with transaction.atomic():
        # Lock order as everywhere: the payment, then its fulfilment rows, then catalog rows (change_holds).
        payment = Payment.objects.select_for_update().get(pk=booking.payment_id)
        booking = (
            Booking.objects.select_for_update(of=("self",)).select_related("service", "package").get(pk=booking.pk)
        )
        if booking.status == BookingStatus.CANCELLED:
            return Cancelled(fulfilment=booking, refund=None)
        if booking.status != BookingStatus.CONFIRMED:
            raise InvalidState(f"Booking {booking.book_id} is {booking.status.lower()} and cannot be cancelled.")
        service = booking.service
        cutoff = slot_starts_at(slot_date=booking.selected_date, slot_time=booking.selected_time) - timedelta(
            hours=service.cancel_cutoff_hours
        )
        if now >= cutoff:
            raise CancellationClosed(
                f"Booking {booking.book_id} could be cancelled until "
                f"{timezone.localtime(cutoff):%d %b %Y, %H:%M} ({service.cancel_cutoff_hours} hours before it starts)."
            )
        Booking.objects.filter(pk=booking.pk, status=BookingStatus.CONFIRMED).update(
            status=BookingStatus.CANCELLED, updated_at=now
        )
        change_holds(variants={}, slots={booking.slot_id: -1})
        amount = booking_refund_amount(total=booking.total, refund_bp=service.cancel_refund_bp)
        refund = _record_refund(
            payment=payment, amount=amount, what=f"booking {booking.book_id}", actor_id=user.pk, now=now
        )
    _send(refund)
    return Cancelled(fulfilment=Booking.objects.select_related("service", "package").get(pk=booking.pk), refund=refund)


def cancel_subscription(*, user: Any, subscription_id: int, now: datetime | None = None) -> Cancelled:
    """Cancel one of `user`'s ACTIVE subscriptions and refund what its rule allows (see the module docstring)."""
    now = now or timezone.now()
    subscription = (
        subscriptions_for_user(user=user).filter(pk=subscription_id).first() if 0 < subscription_id <= MAX_ID else None
    )
    if subscription is None:
        raise NotFound(f"Subscription {subscription_id} was not found.")
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=subscription.payment_id)
        subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if subscription.status == SubscriptionStatus.CANCELLED:
            return Cancelled(fulfilment=subscription, refund=None)
        if subscription.status != SubscriptionStatus.ACTIVE or subscription.ends_at <= now:
            raise InvalidState(f"The {subscription.plan_code} subscription has ended and cannot be cancelled.")
        Subscription.objects.filter(pk=subscription.pk, status=SubscriptionStatus.ACTIVE).update(
            status=SubscriptionStatus.CANCELLED, updated_at=now
        )
        amount = subscription_refund_amount(subscription=subscription, now=now)
        refund = _record_refund(
            payment=payment,
            amount=amount,
            what=f"subscription {subscription.plan_code}",
            actor_id=user.pk,
            now=now,
        )
    _send(refund)
    return Cancelled(fulfilment=Subscription.objects.get(pk=subscription.pk), refund=refund)


def _record_refund(*, payment: Payment, amount: int, what: str, actor_id: int, now: datetime) -> Refund | None:
    """Inside the caller's transaction, with the payment locked: the refund for `amount` paise, capped by what is still
    refundable (staff may have refunded part already), or None when that is below the gateways' minimum."""
    held = Refund.objects.filter(payment=payment, status__in=HOLDING).aggregate(total=Sum("amount"))["total"] or 0
    amount = min(amount, refundable_base(payment=payment) - held)
    reason = f"Customer cancelled {what}"
    if amount < MIN_REFUND:
        PaymentEvent.objects.create(
            payment=payment,
            from_status=payment.status,
            to_status=payment.status,
            source=EventSource.API,
            actor_id=actor_id,
            detail=f"{reason}; no refund due under the cancellation rules.",
        )
        return None
    return request_refund(payment_id=payment.pk, amount=amount, reason=reason, actor_id=actor_id)


def _send(refund: Refund | None) -> None:
    """After the commit, with no transaction open: send the refund to the gateway."""
    if refund is not None:
        try:
            send_refund(refund_id=refund.pk, source=EventSource.API)
        except GatewayError:
            pass  # send_refund noted and logged the error; the refund stays PENDING and the retry task sends it
