"""Cancelling what a payment fulfilled, when staff ask with a refund: its orders that have not shipped, its bookings
and its subscriptions, with the stock and slot places given back through catalog/inventory.py."""

from __future__ import annotations

from collections import Counter

from payfirst.catalog.inventory import change_holds, return_stock
from payfirst.fulfilment.models import (
    Booking,
    BookingStatus,
    Order,
    OrderItem,
    OrderStatus,
    Subscription,
    SubscriptionStatus,
)
from payfirst.fulfilment.notices import notify_bookings_cancelled


def cancel_fulfilments(*, payment_id: int) -> list[str]:
    """Cancel the payment's CONFIRMED orders and bookings and ACTIVE subscriptions, and give their stock and slot
    places back; returns what was cancelled, e.g. ["order ORD-…", "booking BK-…"].

    The caller holds the payment's row lock, inside its transaction. Shipped or delivered orders, completed bookings
    and ended subscriptions stay as they are. The fulfilment rows are locked before the catalog rows (variants, then
    slots, each in pk order), and each is cancelled by a conditional UPDATE from its open status, so stock and
    places are given back once however often this runs.
    """
    orders = list(
        Order.objects.select_for_update().filter(payment_id=payment_id, status=OrderStatus.CONFIRMED).order_by("pk")
    )
    bookings = list(
        Booking.objects.select_for_update().filter(payment_id=payment_id, status=BookingStatus.CONFIRMED).order_by("pk")
    )
    subscriptions = list(
        Subscription.objects.select_for_update()
        .filter(payment_id=payment_id, status=SubscriptionStatus.ACTIVE)
        .order_by("pk")
    )
    Order.objects.filter(pk__in=[o.pk for o in orders], status=OrderStatus.CONFIRMED).update(
        status=OrderStatus.CANCELLED
    )
    Booking.objects.filter(pk__in=[b.pk for b in bookings], status=BookingStatus.CONFIRMED).update(
        status=BookingStatus.CANCELLED
    )
    Subscription.objects.filter(pk__in=[s.pk for s in subscriptions], status=SubscriptionStatus.ACTIVE).update(
        status=SubscriptionStatus.CANCELLED
    )

    stock: Counter[int] = Counter()
    for variant_id, quantity in OrderItem.objects.filter(order__in=orders).values_list("variant_id", "quantity"):
        stock[variant_id] += quantity
    return_stock(variants=stock)
    notify_bookings_cancelled(booking_ids=[b.pk for b in bookings], reason="Cancelled with a refund of the payment.")
    places: Counter[int] = Counter(booking.slot_id for booking in bookings)
    if places:
        change_holds(variants={}, slots={slot_id: -count for slot_id, count in places.items()})
    return [
        *(f"order {order.order_number}" for order in orders),
        *(f"booking {booking.book_id}" for booking in bookings),
        *(f"subscription {subscription.plan_code}" for subscription in subscriptions),
    ]
