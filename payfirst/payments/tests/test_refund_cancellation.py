"""Refunds with `cancel_fulfilment`: the payment's unshipped order, bookings and subscriptions are cancelled with
the refund request, their stock and slot places given back exactly once; shipped orders stay; a refused refund
cancels nothing."""

from __future__ import annotations

import pytest

from payfirst.catalog.models import Slot, Variant
from payfirst.fulfilment.models import Booking, Order, OrderStatus, Subscription
from payfirst.payments.errors import RefundExceedsCaptured
from payfirst.payments.models import PaymentEvent
from payfirst.payments.refunds import refund_payment
from payfirst.payments.states import PaymentStatus
from payfirst.payments.tests.flows import pay

S = PaymentStatus
pytestmark = pytest.mark.django_db


def stock(variant: Variant, slot: Slot) -> tuple[int, int, int]:
    variant.refresh_from_db()
    slot.refresh_from_db()
    return variant.stock_on_hand, variant.reserved, slot.taken


def test_refund_with_cancel_fulfilment_cancels_and_gives_stock_and_places_back(
    staff_client, user, address, mixed_cart, variant, slot, fake_razorpay
):
    payment = pay(user=user, address=address, fake=fake_razorpay)
    assert stock(variant, slot) == (3, 0, 1)
    response = staff_client.post(
        f"/api/payments/{payment.pk}/refunds/",
        {"reason": "Customer cancelled", "cancel_fulfilment": True},
        format="json",
    )
    assert response.status_code == 201 and response.json()["status"] == "PROCESSED"
    assert stock(variant, slot) == (5, 0, 0)
    assert Order.objects.get(payment=payment).status == "CANCELLED"
    assert Booking.objects.get(payment=payment).status == "CANCELLED"
    assert Subscription.objects.get(payment=payment).status == "CANCELLED"
    event = PaymentEvent.objects.filter(payment=payment, detail__contains="requested").get()
    assert "Cancelled: order ORD-" in event.detail and "booking BK-" in event.detail
    payment.refresh_from_db()
    assert payment.status == S.REFUNDED


def test_without_the_flag_nothing_is_cancelled(staff_client, user, address, mixed_cart, variant, slot, fake_razorpay):
    payment = pay(user=user, address=address, fake=fake_razorpay)
    staff_client.post(f"/api/payments/{payment.pk}/refunds/", {"reason": "Goodwill", "amount": 100}, format="json")
    assert stock(variant, slot) == (3, 0, 1)
    assert Order.objects.get(payment=payment).status == "CONFIRMED"


def test_cancelling_twice_gives_back_once_and_shipped_orders_stay(
    user, staff_user, address, mixed_cart, variant, slot, fake_razorpay
):
    payment = pay(user=user, address=address, fake=fake_razorpay)
    Order.objects.filter(payment=payment).update(status=OrderStatus.SHIPPED)
    refund_payment(payment_id=payment.pk, amount=1000, reason="Late", actor_id=staff_user.pk, cancel_fulfilment=True)
    refund_payment(payment_id=payment.pk, amount=1000, reason="Again", actor_id=staff_user.pk, cancel_fulfilment=True)
    assert stock(variant, slot) == (3, 0, 0)  # the shipped diyas are not back on the shelf; the place is, once
    assert Order.objects.get(payment=payment).status == "SHIPPED"
    assert PaymentEvent.objects.filter(payment=payment, detail__contains="nothing left to cancel").count() == 1


def test_a_refused_refund_cancels_nothing(user, staff_user, address, mixed_cart, variant, slot, fake_razorpay):
    payment = pay(user=user, address=address, fake=fake_razorpay)
    with pytest.raises(RefundExceedsCaptured):
        refund_payment(
            payment_id=payment.pk, amount=payment.amount + 1, reason="x", actor_id=staff_user.pk, cancel_fulfilment=True
        )
    assert stock(variant, slot) == (3, 0, 1)
    assert Booking.objects.get(payment=payment).status == "CONFIRMED"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_cancelling_refunds_give_stock_back_once(
    user, staff_user, address, mixed_cart, variant, slot, fake_razorpay
):
    import threading

    from django.db import connection

    payment = pay(user=user, address=address, fake=fake_razorpay)
    barrier = threading.Barrier(4)

    def attempt() -> None:
        try:
            barrier.wait(timeout=10)
            refund_payment(
                payment_id=payment.pk, amount=1000, reason="race", actor_id=staff_user.pk, cancel_fulfilment=True
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert stock(variant, slot) == (5, 0, 0)
    assert PaymentEvent.objects.filter(payment=payment, detail__contains="Cancelled: order").count() == 1
