"""Read queries over orders, bookings and subscriptions, each a constant number of queries whatever it returns."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from django.db.models import CharField, QuerySet, Value

from payfirst.core.errors import NotFound
from payfirst.core.models import MAX_ID
from payfirst.fulfilment.models import Booking, Order, Subscription

if TYPE_CHECKING:
    from payfirst.accounts.models import User


@dataclass(frozen=True)
class FulfilmentRef:
    """What a payment was turned into: ("order", 12, "ORD-..."), ("booking", 3, "BK-..."), ("subscription", 5, code)."""

    type: str
    id: int
    reference: str


class BookingSummary(TypedDict):
    book_id: str
    status: str
    total: int


def fulfilment_refs(*, payment_ids: Iterable[int]) -> dict[int, list[FulfilmentRef]]:
    """Each payment's fulfilments: its order, then its bookings, then its subscriptions, each oldest first.

    One query for any number of payments (the three kinds in one UNION ALL); a payment with none maps to [].
    """
    ids = sorted(set(payment_ids))
    refs: dict[int, list[FulfilmentRef]] = {payment_id: [] for payment_id in ids}
    if not ids:
        return refs
    kinds: tuple[tuple[str, QuerySet, str], ...] = (
        ("order", Order.objects.all(), "order_number"),
        ("booking", Booking.objects.all(), "book_id"),
        ("subscription", Subscription.objects.all(), "plan_code"),
    )
    rank = {kind: index for index, (kind, _queryset, _field) in enumerate(kinds)}
    parts = [
        queryset.filter(payment_id__in=ids)
        .order_by()
        .annotate(ref_kind=Value(kind, output_field=CharField()))
        .values_list("ref_kind", "payment_id", "pk", reference_field)
        for kind, queryset, reference_field in kinds
    ]
    rows = parts[0].union(*parts[1:], all=True)
    for kind, payment_id, pk, reference in sorted(rows, key=lambda row: (row[1], rank[row[0]], row[2])):
        refs[payment_id].append(FulfilmentRef(type=kind, id=pk, reference=reference))
    return refs


def payment_booking(*, payment_id: int) -> BookingSummary | None:
    """`{book_id, status, total}` of the payment's booking for `check-booking` and `cart/status`, or None.

    A payment holding several service lines has several bookings; this answers the first one made. One query.
    """
    row = Booking.objects.filter(payment_id=payment_id).order_by("pk").values("book_id", "status", "total").first()
    if row is None:
        return None
    return BookingSummary(book_id=row["book_id"], status=row["status"], total=row["total"])


def orders_for_user(*, user: User) -> QuerySet[Order]:
    """The user's orders, newest first, with their items fetched in one more query."""
    return Order.objects.filter(user=user).prefetch_related("items").order_by("-created_at", "-id")


def get_order(*, user: User, order_id: int) -> Order:
    """One of the user's orders with its items; another user's order is NotFound, exactly like a missing one."""
    if not 0 < order_id <= MAX_ID:
        raise NotFound(f"Order {order_id} was not found.")
    order = orders_for_user(user=user).filter(pk=order_id).first()
    if order is None:
        raise NotFound(f"Order {order_id} was not found.")
    return order


def bookings_for_user(*, user: User) -> QuerySet[Booking]:
    """The user's bookings, newest first, with service and package joined in."""
    return Booking.objects.filter(user=user).select_related("service", "package").order_by("-created_at", "-id")


def get_booking(*, user: User, booking_id: int) -> Booking:
    """One of the user's bookings; another user's booking is NotFound, exactly like a missing one."""
    if not 0 < booking_id <= MAX_ID:
        raise NotFound(f"Booking {booking_id} was not found.")
    booking = bookings_for_user(user=user).filter(pk=booking_id).first()
    if booking is None:
        raise NotFound(f"Booking {booking_id} was not found.")
    return booking


def subscriptions_for_user(*, user: User) -> QuerySet[Subscription]:
    """The user's subscriptions, newest first."""
    return Subscription.objects.filter(user=user).order_by("-created_at", "-id")
