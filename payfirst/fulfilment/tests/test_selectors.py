"""fulfilment_refs() and payment_booking(): what payments read back about their fulfilments, in constant queries."""

from __future__ import annotations

import pytest

from payfirst.fulfilment.models import Booking, Order, Subscription
from payfirst.fulfilment.selectors import FulfilmentRef, fulfilment_refs, payment_booking
from payfirst.payments.handover import fulfil
from payfirst.testing.factories import (
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


def _service_line():
    package = make_package()
    return service_line(package, make_slot(package=package))


def test_fulfilment_refs_answers_what_fulfil_returned_for_each_payment(user, other_user):
    mixed = make_captured_payment(
        user=user, lines=[product_line(make_variant()), _service_line(), _service_line(), plan_line(make_plan())]
    )
    bookings_only = make_captured_payment(user=other_user, lines=[_service_line()])
    unfulfilled = make_captured_payment(user=user, lines=[product_line(make_variant())])
    created = {mixed.pk: fulfil(payment=mixed), bookings_only.pk: fulfil(payment=bookings_only)}

    refs = fulfilment_refs(payment_ids=[mixed.pk, bookings_only.pk, unfulfilled.pk, mixed.pk])

    assert refs == {mixed.pk: created[mixed.pk], bookings_only.pk: created[bookings_only.pk], unfulfilled.pk: []}
    assert [ref.type for ref in refs[mixed.pk]] == ["order", "booking", "booking", "subscription"]
    plan = mixed.lines.get(kind="plan").plan
    assert plan is not None
    assert refs[mixed.pk][-1] == FulfilmentRef(type="subscription", id=refs[mixed.pk][-1].id, reference=plan.code)


def test_fulfilment_refs_costs_one_query_however_many_payments(user, django_assert_num_queries):
    payments = [
        make_captured_payment(user=user, lines=[product_line(make_variant()), _service_line(), plan_line(make_plan())])
        for _ in range(2)
    ]
    for payment in payments:
        fulfil(payment=payment)
    with django_assert_num_queries(1):
        one = fulfilment_refs(payment_ids=[payments[0].pk])
    with django_assert_num_queries(1):
        both = fulfilment_refs(payment_ids=(p.pk for p in payments))
    assert [ref.type for ref in one[payments[0].pk]] == ["order", "booking", "subscription"]
    assert [len(refs) for refs in both.values()] == [3, 3]
    for payment in payments:  # each payment's own rows, in the order the three kinds are listed
        order = Order.objects.get(payment=payment)
        booking = Booking.objects.get(payment=payment)
        subscription = Subscription.objects.get(payment=payment)
        assert both[payment.pk] == [
            FulfilmentRef(type="order", id=order.pk, reference=order.order_number),
            FulfilmentRef(type="booking", id=booking.pk, reference=booking.book_id),
            FulfilmentRef(type="subscription", id=subscription.pk, reference=subscription.plan_code),
        ]


def test_fulfilment_refs_of_no_payments_asks_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert fulfilment_refs(payment_ids=[]) == {}


def test_payment_booking_is_the_first_booking_or_none(user, django_assert_num_queries):
    payment = make_captured_payment(user=user, lines=[_service_line(), _service_line()], discount=1_001)
    products_only = make_captured_payment(user=user, lines=[product_line(make_variant())])
    fulfil(payment=payment)
    fulfil(payment=products_only)
    first = Booking.objects.filter(payment=payment).order_by("pk").first()
    assert first is not None

    with django_assert_num_queries(1):
        summary = payment_booking(payment_id=payment.pk)

    assert summary == {"book_id": first.book_id, "status": "CONFIRMED", "total": first.total}
    assert first.total == 250_000 - 501  # the larger remainder goes to the earlier line
    assert payment_booking(payment_id=products_only.pk) is None
