"""fulfil(): what a captured payment becomes, that it adds up, that it happens once, and what it costs in queries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from payfirst.core.errors import InvalidState
from payfirst.fulfilment.models import (
    Booking,
    BookingStatus,
    Order,
    OrderItem,
    OrderStatus,
    Subscription,
    SubscriptionStatus,
)
from payfirst.fulfilment.selectors import FulfilmentRef
from payfirst.fulfilment.services import expire_subscriptions
from payfirst.payments.handover import fulfil, payment_lines_for_fulfilment
from payfirst.testing.factories import (
    ADDRESS,
    make_captured_payment,
    make_package,
    make_plan,
    make_slot,
    make_variant,
    plan_line,
    product_line,
    service_line,
)

pytestmark = pytest.mark.django_db

BOOK_ID = re.compile(r"^BK-[0-9A-Z]{8}$")
ORDER_NUMBER = re.compile(r"^ORD-[0-9A-Z]{12}$")


def _mixed_lines(*, products: int = 3, services: int = 2, plans: int = 1):
    lines = [product_line(make_variant(price=10_000 + 1_111 * i), quantity=1 + i % 3) for i in range(products)]
    for _ in range(services):
        package = make_package(price=250_000)
        lines.append(service_line(package, make_slot(package=package)))
    lines += [plan_line(make_plan(price=99_900, duration_days=30)) for _ in range(plans)]
    return lines


def _fulfilled_total(payment) -> int:
    return (
        sum(Order.objects.filter(payment=payment).values_list("total", flat=True))
        + sum(Booking.objects.filter(payment=payment).values_list("total", flat=True))
        + sum(Subscription.objects.filter(payment=payment).values_list("total", flat=True))
    )


def test_fulfil_mixed_payment_creates_one_order_a_booking_per_service_and_a_subscription_per_plan(user):
    payment = make_captured_payment(user=user, lines=_mixed_lines(), discount=12_345)
    lines = list(payment.lines.order_by("pk"))
    product_lines = [line for line in lines if line.kind == "product"]
    service_lines = [line for line in lines if line.kind == "service"]
    plan_lines = [line for line in lines if line.kind == "plan"]
    plan = plan_lines[0].plan
    assert plan is not None

    refs = fulfil(payment=payment)

    order = Order.objects.get(payment=payment)
    bookings = list(Booking.objects.filter(payment=payment).order_by("pk"))
    subscriptions = list(Subscription.objects.filter(payment=payment).order_by("pk"))
    assert [ref.type for ref in refs] == ["order", "booking", "booking", "subscription"]
    assert refs[0] == FulfilmentRef(type="order", id=order.pk, reference=order.order_number)
    assert refs[1:3] == [FulfilmentRef(type="booking", id=b.pk, reference=b.book_id) for b in bookings]
    assert refs[3] == FulfilmentRef(type="subscription", id=subscriptions[0].pk, reference=plan.code)

    assert ORDER_NUMBER.match(order.order_number)
    assert (order.user_id, order.status) == (user.pk, OrderStatus.CONFIRMED)
    assert order.subtotal == sum(line.line_total for line in product_lines)
    assert order.discount == sum(line.discount for line in product_lines) > 0
    assert order.total == sum(line.total for line in product_lines) == order.subtotal - order.discount
    assert order.shipping_address == ADDRESS and order.billing_address == ADDRESS
    items = list(order.items.order_by("pk"))
    assert [
        (i.payment_line_id, i.variant_id, i.name, i.sku, i.quantity, i.unit_price, i.line_total, i.discount, i.total)
        for i in items
    ] == [
        (ln.pk, ln.variant_id, ln.name, ln.sku, ln.quantity, ln.unit_price, ln.line_total, ln.discount, ln.total)
        for ln in product_lines
    ]

    assert len(bookings) == len(service_lines) == 2
    for booking, line in zip(bookings, service_lines, strict=True):
        assert BOOK_ID.match(booking.book_id)
        assert line.package is not None
        assert (booking.user_id, booking.status, booking.payment_line_id) == (user.pk, BookingStatus.CONFIRMED, line.pk)
        assert (booking.service_id, booking.package_id, booking.slot_id) == (
            line.package.service_id,
            line.package_id,
            line.slot_id,
        )
        assert (booking.selected_date, booking.selected_time) == (line.selected_date, line.selected_time)
        assert (booking.discount, booking.total) == (line.discount, line.total)
    assert bookings[0].book_id != bookings[1].book_id

    (subscription,) = subscriptions
    assert (subscription.plan_id, subscription.plan_code, subscription.status) == (
        plan_lines[0].plan_id,
        plan.code,
        SubscriptionStatus.ACTIVE,
    )
    assert abs(subscription.starts_at - timezone.now()) < timedelta(minutes=1)
    assert subscription.ends_at - subscription.starts_at == timedelta(days=30)
    assert subscription.total == plan_lines[0].total

    assert _fulfilled_total(payment) == payment.amount == payment.subtotal - 12_345


@pytest.mark.parametrize("discount", [0, 1, 7, 99_999])
def test_fulfil_totals_add_up_to_the_payment_amount_for_any_discount(user, discount):
    payment = make_captured_payment(user=user, lines=_mixed_lines(products=4, services=2, plans=2), discount=discount)
    fulfil(payment=payment)
    assert _fulfilled_total(payment) == payment.amount


@pytest.mark.parametrize(
    "shape",
    [
        {"products": 2, "services": 2, "plans": 1},
        {"products": 0, "services": 2, "plans": 0},
        {"products": 0, "services": 0, "plans": 1},
        {"products": 1, "services": 0, "plans": 0},
    ],
    ids=["mixed", "services-only", "plan-only", "product-only"],
)
def test_fulfil_twice_raises_integrity_error_and_creates_nothing_more(user, shape):
    payment = make_captured_payment(user=user, lines=_mixed_lines(**shape), discount=500)
    fulfil(payment=payment)
    counts = (Order.objects.count(), OrderItem.objects.count(), Booking.objects.count(), Subscription.objects.count())

    with pytest.raises(IntegrityError), transaction.atomic():
        fulfil(payment=payment)

    assert (
        Order.objects.count(),
        OrderItem.objects.count(),
        Booking.objects.count(),
        Subscription.objects.count(),
    ) == counts


def test_fulfil_runs_the_same_number_of_queries_whatever_the_payment_holds(user, django_assert_num_queries):
    small = make_captured_payment(user=user, lines=_mixed_lines(products=1, services=1, plans=1), discount=100)
    large = make_captured_payment(user=user, lines=_mixed_lines(products=12, services=6, plans=3), discount=4_321)

    # lines 1, order 1 + items 1, bookings 1, subscriptions 3 (lock user, running ones, insert)
    with django_assert_num_queries(7):
        fulfil(payment=small)
    with django_assert_num_queries(7):
        fulfil(payment=large)
    assert OrderItem.objects.filter(order__payment=large).count() == 12
    assert Booking.objects.filter(payment=large).count() == 6
    assert Subscription.objects.filter(payment=large).count() == 3


def test_fulfil_of_products_only_runs_three_queries(user, django_assert_num_queries):
    payment = make_captured_payment(user=user, lines=_mixed_lines(products=5, services=0, plans=0))
    with django_assert_num_queries(3):
        fulfil(payment=payment)


def test_fulfil_with_the_lines_already_read_runs_one_query_less(user, django_assert_num_queries):
    payment = make_captured_payment(user=user, lines=_mixed_lines(products=4, services=2, plans=2), discount=500)
    lines = payment_lines_for_fulfilment(payment_id=payment.pk)
    # order 1 + items 1, bookings 1, subscriptions 3: the lines are not read again
    with django_assert_num_queries(6):
        refs = fulfil(payment=payment, lines=lines)
    assert [ref.type for ref in refs] == ["order", "booking", "booking", "subscription", "subscription"]
    assert (
        sum(o.total for o in Order.objects.filter(payment=payment))
        + sum(b.total for b in Booking.objects.filter(payment=payment))
        + sum(s.total for s in Subscription.objects.filter(payment=payment))
        == payment.amount
    )


def test_fulfil_refuses_lines_of_another_payment(user, django_assert_num_queries):
    payment = make_captured_payment(user=user, lines=_mixed_lines(products=1, services=1, plans=0))
    other = make_captured_payment(user=user, lines=_mixed_lines(products=1, services=1, plans=0))
    lines_of_other = payment_lines_for_fulfilment(payment_id=other.pk)
    with django_assert_num_queries(0), pytest.raises(InvalidState, match="another payment"):
        fulfil(payment=payment, lines=lines_of_other)
    assert not Order.objects.filter(payment__in=[payment, other]).exists()


def test_fulfil_keeps_a_missing_address_snapshot_as_null(user):
    payment = make_captured_payment(user=user, lines=_mixed_lines(products=1, services=0, plans=0), with_address=False)
    fulfil(payment=payment)
    order = Order.objects.get(payment=payment)
    assert (order.shipping_address, order.billing_address) == (None, None)


def test_fulfil_starts_a_repeat_plan_when_the_running_subscription_ends(user, other_user):
    plan = make_plan(duration_days=30)
    first = make_captured_payment(user=user, lines=[plan_line(plan)])
    fulfil(payment=first)
    running = Subscription.objects.get(payment=first)
    # Another user's subscription to the same plan has nothing to do with this user's.
    fulfil(payment=make_captured_payment(user=other_user, lines=[plan_line(plan)]))

    second = make_captured_payment(user=user, lines=[plan_line(plan)])
    fulfil(payment=second)

    renewed = Subscription.objects.get(payment=second)
    assert renewed.starts_at == running.ends_at
    assert renewed.ends_at == running.ends_at + timedelta(days=30)
    assert Subscription.objects.get(payment__user=other_user).starts_at < running.ends_at


def test_fulfil_starts_now_when_the_previous_subscription_is_over_or_cancelled(user):
    plan = make_plan(duration_days=30)
    now = timezone.now()
    for status, ends_at in (
        (SubscriptionStatus.ACTIVE, now - timedelta(days=1)),
        (SubscriptionStatus.CANCELLED, now + timedelta(days=20)),
    ):
        old = make_captured_payment(user=user, lines=[plan_line(plan)])
        fulfil(payment=old)
        Subscription.objects.filter(payment=old).update(
            status=status, starts_at=ends_at - timedelta(days=30), ends_at=ends_at
        )

    payment = make_captured_payment(user=user, lines=[plan_line(plan)])
    fulfil(payment=payment)

    assert abs(Subscription.objects.get(payment=payment).starts_at - timezone.now()) < timedelta(minutes=1)


@pytest.mark.parametrize("status", ["PENDING", "FAILED", "EXPIRED", "FLAGGED", "REFUNDED"])
def test_fulfil_refuses_a_payment_that_is_not_captured(user, status, django_assert_num_queries):
    payment = make_captured_payment(user=user, lines=_mixed_lines(products=1, services=1, plans=1))
    payment.status = status

    with django_assert_num_queries(0), pytest.raises(InvalidState, match="not CAPTURED"):
        fulfil(payment=payment)

    assert not (Order.objects.exists() or Booking.objects.exists() or Subscription.objects.exists())


def test_expire_subscriptions_marks_only_active_ones_that_have_ended(user):
    payments = [make_captured_payment(user=user, lines=[plan_line(make_plan())]) for _ in range(3)]
    for payment in payments:
        fulfil(payment=payment)
    ended, running, cancelled = (Subscription.objects.get(payment=p) for p in payments)
    past = timezone.now() - timedelta(days=1)
    Subscription.objects.filter(pk=ended.pk).update(starts_at=past - timedelta(days=30), ends_at=past)
    Subscription.objects.filter(pk=cancelled.pk).update(
        status=SubscriptionStatus.CANCELLED, starts_at=past - timedelta(days=30), ends_at=past
    )

    assert expire_subscriptions() == 1

    assert dict(Subscription.objects.values_list("pk", "status")) == {
        ended.pk: SubscriptionStatus.EXPIRED,
        running.pk: SubscriptionStatus.ACTIVE,
        cancelled.pk: SubscriptionStatus.CANCELLED,
    }
