"""Turning a captured payment into its fulfilments, in a fixed number of queries, exactly once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from django.db import transaction
from django.utils import timezone

from payfirst.catalog.models import LineKind
from payfirst.core.errors import InvalidState
from payfirst.fulfilment.locks import lock_user_row
from payfirst.fulfilment.models import (
    Booking,
    Order,
    OrderItem,
    Subscription,
    SubscriptionStatus,
    new_book_id,
)
from payfirst.fulfilment.selectors import FulfilmentRef

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PaidPayment:
    """What fulfilment needs to know of a captured payment: whose it is and where its products go."""

    id: int
    user_id: int
    shipping_address: dict[str, Any] | None
    billing_address: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class FulfilmentLine:
    """One line of a captured payment, as sold, with its package's service and its plan's code and length joined
    (None where it has none). The payments app reads them in one statement and hands them over."""

    id: int
    payment_id: int
    kind: str
    variant_id: int | None
    package_id: int | None
    service_id: int | None
    slot_id: int | None
    plan_id: int | None
    plan_code: str | None
    plan_days: int | None
    name: str
    sku: str
    selected_date: date | None
    selected_time: time | None
    quantity: int
    unit_price: int
    line_total: int
    discount: int
    total: int
    devotee_name: str = ""
    note: str = ""


def fulfil(*, payment: PaidPayment, lines: Sequence[FulfilmentLine]) -> list[FulfilmentRef]:
    """One Order (with its items) for the product lines, a Booking per service line, a Subscription per plan line.

    Called only by payments' capture, inside its transaction, with the payment row locked and CAPTURED (the caller
    checks that: nothing is fulfilled without a captured payment). Amounts are the lines' `total` (line total less
    its discount share), so the fulfilments add up to the payment's amount. Queries: 2 for an order, 1 for the
    bookings, 3 for the subscriptions (lock the user, read their running subscriptions, insert) — the same whatever
    the payment holds. A second call for the same payment raises IntegrityError (one order per payment, one
    fulfilment per payment line) and adds nothing. Stock, slots, the cart and the payment's state are the caller's
    business.
    """
    if any(line.payment_id != payment.id for line in lines):
        raise InvalidState(
            f"Lines of another payment were handed to fulfil payment {payment.id}; nothing was fulfilled."
        )
    # PaymentLine's CHECK constraint admits only these three kinds, so every line lands in exactly one list.
    products = [line for line in lines if line.kind == LineKind.PRODUCT]
    services = [line for line in lines if line.kind == LineKind.SERVICE]
    plans = [line for line in lines if line.kind == LineKind.PLAN]

    refs: list[FulfilmentRef] = []
    # No savepoint: inside record_capture a failure here must abort the whole capture, and a savepoint would cost
    # two queries on the hot path. Called on its own, this still runs as one transaction.
    with transaction.atomic(savepoint=False):
        if products:
            refs.append(_create_order(payment=payment, lines=products))
        if services:
            refs.extend(_create_bookings(payment=payment, lines=services))
        if plans:
            refs.extend(_create_subscriptions(payment=payment, lines=plans))
    return refs


def _create_order(*, payment: PaidPayment, lines: list[FulfilmentLine]) -> FulfilmentRef:
    subtotal = sum(line.line_total for line in lines)
    discount = sum(line.discount for line in lines)
    order = Order.objects.create(
        user_id=payment.user_id,
        payment_id=payment.id,
        subtotal=subtotal,
        discount=discount,
        total=sum(line.total for line in lines),
        shipping_address=payment.shipping_address,
        billing_address=payment.billing_address,
    )
    OrderItem.objects.bulk_create(
        [
            OrderItem(
                order=order,
                payment_line_id=line.id,
                variant_id=given(line.variant_id, line=line, what="variant_id"),
                name=line.name,
                sku=line.sku,
                quantity=line.quantity,
                unit_price=line.unit_price,
                line_total=line.line_total,
                discount=line.discount,
                total=line.total,
            )
            for line in lines
        ]
    )
    return FulfilmentRef(type="order", id=order.pk, reference=order.order_number)


def _create_bookings(*, payment: PaidPayment, lines: list[FulfilmentLine]) -> list[FulfilmentRef]:
    book_ids: set[str] = set()
    while len(book_ids) < len(lines):  # distinct within this payment; the unique constraint guards the rest
        book_ids.add(new_book_id())
    bookings = Booking.objects.bulk_create(
        [
            Booking(
                user_id=payment.user_id,
                payment_id=payment.id,
                payment_line_id=line.id,
                book_id=book_id,
                service_id=given(line.service_id, line=line, what="service_id"),
                package_id=given(line.package_id, line=line, what="package_id"),
                slot_id=given(line.slot_id, line=line, what="slot_id"),
                selected_date=given(line.selected_date, line=line, what="selected_date"),
                selected_time=given(line.selected_time, line=line, what="selected_time"),
                discount=line.discount,
                total=line.total,
                devotee_name=line.devotee_name,
                note=line.note,
            )
            for line, book_id in zip(lines, sorted(book_ids), strict=True)
        ]
    )
    return [FulfilmentRef(type="booking", id=booking.pk, reference=booking.book_id) for booking in bookings]


def given(value: T | None, *, line: FulfilmentLine, what: str) -> T:
    """A field the line's kind always has (the payment line's CHECK constraint says so), typed as present."""
    if value is None:
        raise InvalidState(f"Payment line {line.id} ({line.kind}) has no {what}; nothing was fulfilled.")
    return value


def _create_subscriptions(*, payment: PaidPayment, lines: list[FulfilmentLine]) -> list[FulfilmentRef]:
    """A plan bought while the user's subscription to it is still running extends it: the new one starts when the
    latest running one ends.

    Two captures for the same user take turns here on a lock of the user's row (taken after the payment's row, so
    the lock order is payment, then user), so the second sees the first's subscription and periods never overlap.
    It is FOR NO KEY UPDATE: rows that merely reference the user (new payments, carts) are not held up by it.
    """
    lock_user_row(user_id=payment.user_id)
    now = timezone.now()
    # The latest end per plan is taken here rather than by GROUP BY: a user has a handful of running subscriptions,
    # and the plain read is much cheaper to build on this hot path. A statement of its own (not joined to the lock
    # above), so that it reads what a capture we waited for on that lock has just committed.
    running = Subscription.objects.filter(
        user_id=payment.user_id,
        plan_id__in={line.plan_id for line in lines},
        status=SubscriptionStatus.ACTIVE,
        ends_at__gt=now,
    ).values_list("plan_id", "ends_at")
    latest_end: dict[int, datetime] = {}
    for plan_id, ends_at in running:
        latest_end[plan_id] = max(ends_at, latest_end.get(plan_id, ends_at))
    subscriptions = []
    for line in lines:
        plan_id = given(line.plan_id, line=line, what="plan_id")
        starts_at = max(now, latest_end.get(plan_id, now))
        ends_at = starts_at + timedelta(days=given(line.plan_days, line=line, what="plan_days"))
        latest_end[plan_id] = ends_at
        subscriptions.append(
            Subscription(
                user_id=payment.user_id,
                payment_id=payment.id,
                payment_line_id=line.id,
                plan_id=plan_id,
                plan_code=given(line.plan_code, line=line, what="plan_code"),
                starts_at=starts_at,
                ends_at=ends_at,
                discount=line.discount,
                total=line.total,
            )
        )
    created = Subscription.objects.bulk_create(subscriptions)
    return [FulfilmentRef(type="subscription", id=sub.pk, reference=sub.plan_code) for sub in created]


def expire_subscriptions(*, now: datetime | None = None) -> int:
    """Mark ACTIVE subscriptions whose period is over as EXPIRED, in one conditional UPDATE. Returns how many."""
    return Subscription.objects.filter(status=SubscriptionStatus.ACTIVE, ends_at__lte=now or timezone.now()).update(
        status=SubscriptionStatus.EXPIRED
    )
