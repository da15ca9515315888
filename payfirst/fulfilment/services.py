"""Turning a captured payment into its fulfilments, in a fixed number of queries, exactly once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from payfirst.cart.models import LineKind
from payfirst.core.errors import InvalidState
from payfirst.fulfilment.models import (
    Booking,
    Order,
    OrderItem,
    Subscription,
    SubscriptionStatus,
    new_book_id,
)
from payfirst.fulfilment.selectors import FulfilmentRef
from payfirst.payments.states import PaymentStatus

if TYPE_CHECKING:
    from payfirst.payments.models import Payment, PaymentLine


def payment_lines_for_fulfilment(*, payment_id: int) -> list[PaymentLine]:
    """A payment's lines as `fulfil` needs them, in pk order, in one query: each also carries its package's service
    (`joined_service_id`) and its plan's `joined_plan_code` and `joined_plan_days` (None where it has none).

    `record_capture` reads them once with this and uses them both for the stock it sells and for `fulfil`. Plain SQL
    with the two LEFT JOINs because it runs on every capture and the ORM's select_related cost more than the query.
    """
    from payfirst.catalog.models import Plan, ServicePackage
    from payfirst.payments.models import PaymentLine  # payments imports this module: imported when called

    line, package, plan = (connection.ops.quote_name(m._meta.db_table) for m in (PaymentLine, ServicePackage, Plan))
    return list(
        PaymentLine.objects.raw(
            f"SELECT l.*, k.service_id AS joined_service_id, pl.code AS joined_plan_code, "
            f"pl.duration_days AS joined_plan_days FROM {line} l LEFT JOIN {package} k ON k.id = l.package_id "
            f"LEFT JOIN {plan} pl ON pl.id = l.plan_id WHERE l.payment_id = %s ORDER BY l.id",
            [payment_id],
        )
    )


def fulfil(*, payment: Payment, lines: list[PaymentLine] | None = None) -> list[FulfilmentRef]:
    """One Order (with its items) for the product lines, a Booking per service line, a Subscription per plan line.

    Called only by payments' `record_capture`, inside its transaction, with the payment row locked and CAPTURED.
    Amounts are the lines' `total` (line total less its discount share), so the fulfilments add up to the payment's
    amount. `lines` are the payment's lines from `payment_lines_for_fulfilment` when the caller has read them already
    (record_capture does); otherwise they are read here. Queries: 1 to read the lines (0 when given), 2 for an
    order, 1 for the bookings, 3 for the subscriptions (lock the user, read their running subscriptions, insert) —
    the same whatever the payment holds. A second call for the same payment raises IntegrityError (one order per
    payment, one fulfilment per payment line) and adds nothing. Stock, slots, the cart and the payment's state are
    the caller's business.
    """
    if payment.status != PaymentStatus.CAPTURED:
        # Nothing is fulfilled without a captured payment (DESIGN.md invariant 1); the caller holds its row lock.
        raise InvalidState(f"Payment {payment.pk} is {payment.status}, not CAPTURED; nothing was fulfilled.")
    if lines is None:
        lines = payment_lines_for_fulfilment(payment_id=payment.pk)
    elif any(line.payment_id != payment.pk for line in lines):
        raise InvalidState(
            f"Lines of another payment were handed to fulfil payment {payment.pk}; nothing was fulfilled."
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


def _create_order(*, payment: Payment, lines: list[PaymentLine]) -> FulfilmentRef:
    subtotal = sum(line.line_total for line in lines)
    discount = sum(line.discount for line in lines)
    order = Order.objects.create(
        user_id=payment.user_id,
        payment=payment,
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
                payment_line=line,
                variant_id=line.variant_id,
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


def _create_bookings(*, payment: Payment, lines: list[PaymentLine]) -> list[FulfilmentRef]:
    book_ids: set[str] = set()
    while len(book_ids) < len(lines):  # distinct within this payment; the unique constraint guards the rest
        book_ids.add(new_book_id())
    bookings = Booking.objects.bulk_create(
        [
            Booking(
                user_id=payment.user_id,
                payment=payment,
                payment_line=line,
                book_id=book_id,
                service_id=line.joined_service_id,
                package_id=line.package_id,
                slot_id=line.slot_id,
                selected_date=line.selected_date,
                selected_time=line.selected_time,
                discount=line.discount,
                total=line.total,
                devotee_name=line.devotee_name,
                note=line.note,
            )
            for line, book_id in zip(lines, sorted(book_ids), strict=True)
        ]
    )
    return [FulfilmentRef(type="booking", id=booking.pk, reference=booking.book_id) for booking in bookings]


def _lock_user_row(*, user_id: int) -> None:
    """SELECT ... FOR NO KEY UPDATE of one user row, as plain SQL: it runs on every capture with a plan, and the
    ORM's queryset construction cost more than the statement. SQLite has no row locks (it serialises writers)."""
    lock = " FOR NO KEY UPDATE" if connection.features.has_select_for_no_key_update else ""
    table = connection.ops.quote_name(get_user_model()._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table} WHERE id = %s{lock}", [user_id])
        cursor.fetchall()


def _create_subscriptions(*, payment: Payment, lines: list[PaymentLine]) -> list[FulfilmentRef]:
    """A plan bought while the user's subscription to it is still running extends it: the new one starts when the
    latest running one ends.

    Two captures for the same user take turns here on a lock of the user's row (taken after the payment's row, so
    the lock order is payment, then user), so the second sees the first's subscription and periods never overlap.
    It is FOR NO KEY UPDATE: rows that merely reference the user (new payments, carts) are not held up by it.
    """
    _lock_user_row(user_id=payment.user_id)
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
        starts_at = max(now, latest_end.get(line.plan_id, now))
        ends_at = starts_at + timedelta(days=line.joined_plan_days)
        latest_end[line.plan_id] = ends_at
        subscriptions.append(
            Subscription(
                user_id=payment.user_id,
                payment=payment,
                payment_line=line,
                plan_id=line.plan_id,
                plan_code=line.joined_plan_code,
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
