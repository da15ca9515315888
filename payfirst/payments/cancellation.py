"""Cancelling what a refunded payment fulfilled, when staff ask: its orders that have not shipped, its bookings and
its subscriptions, with the stock and slot places given back. Runs inside request_refund's transaction."""

from __future__ import annotations

from collections import Counter

from django.db.models import F

from payfirst.catalog.inventory import change_holds
from payfirst.catalog.models import Variant
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
from payfirst.payments.models import Payment


def cancel_fulfilment(*, payment: Payment) -> list[str]:
    """Cancel the (locked) payment's CONFIRMED orders and bookings and ACTIVE subscriptions, and give their stock
    and slot places back; returns what was cancelled, e.g. ["order ORD-…", "booking BK-…"].

    Shipped or delivered orders, completed bookings and ended subscriptions stay as they are. The fulfilment rows
    are locked before the catalog rows (variants, then slots, each in pk order), and each is cancelled by a
    conditional UPDATE from its open status, so stock and places are given back once however often this runs.
    """
    orders = list(
        Order.objects.select_for_update().filter(payment=payment, status=OrderStatus.CONFIRMED).order_by("pk")
    )
    bookings = list(
        Booking.objects.select_for_update().filter(payment=payment, status=BookingStatus.CONFIRMED).order_by("pk")
    )
    subscriptions = list(
        Subscription.objects.select_for_update()
        .filter(payment=payment, status=SubscriptionStatus.ACTIVE)
        .order_by("pk")
    )
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(status=OrderStatus.CANCELLED)
    Booking.objects.filter(pk__in=[b.pk for b in bookings]).update(status=BookingStatus.CANCELLED)
    Subscription.objects.filter(pk__in=[s.pk for s in subscriptions]).update(status=SubscriptionStatus.CANCELLED)

    stock: Counter[int] = Counter()
    for variant_id, quantity in OrderItem.objects.filter(order__in=orders).values_list("variant_id", "quantity"):
        stock[variant_id] += quantity
    if stock:
        list(Variant.objects.select_for_update().filter(pk__in=list(stock)).order_by("pk").values_list("pk"))
        for variant_id, quantity in sorted(stock.items()):
            Variant.objects.filter(pk=variant_id).update(stock_on_hand=F("stock_on_hand") + quantity)
    notify_bookings_cancelled(booking_ids=[b.pk for b in bookings], reason="Cancelled with a refund of the payment.")
    places: Counter[int] = Counter(booking.slot_id for booking in bookings)
    if places:
        change_holds(variants={}, slots={slot_id: -count for slot_id, count in places.items()})
    return [
        *(f"order {order.order_number}" for order in orders),
        *(f"booking {booking.book_id}" for booking in bookings),
        *(f"subscription {subscription.plan_code}" for subscription in subscriptions),
    ]
