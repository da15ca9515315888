"""The database's own guarantees on payments: the constraints hold even when Python code would not."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from payfirst.catalog.models import Slot, Variant
from payfirst.payments.models import Payment, WebhookEvent
from payfirst.payments.states import PaymentStatus
from payfirst.testing import factories

pytestmark = pytest.mark.django_db


def refused(make) -> bool:
    try:
        with transaction.atomic():
            make()
    except IntegrityError:
        return True
    return False


def test_amount_must_be_positive_and_equal_subtotal_less_discount(user):
    payment = factories.make_bare_payment(user=user)
    assert refused(lambda: Payment.objects.filter(pk=payment.pk).update(amount=0, subtotal=0))
    assert refused(lambda: Payment.objects.filter(pk=payment.pk).update(amount=payment.amount + 1))


def test_gateway_order_id_is_unique_per_gateway(user):
    factories.make_bare_payment(user=user, gateway_order_id="order_1")
    assert refused(lambda: factories.make_bare_payment(user=user, gateway_order_id="order_1"))
    factories.make_bare_payment(user=user, gateway="phonepe", gateway_order_id="order_1")  # another gateway
    factories.make_bare_payment(user=user)  # blank ids do not collide
    factories.make_bare_payment(user=user)


def test_a_cart_has_at_most_one_pending_payment(user):
    payment = factories.make_bare_payment(user=user)
    second = factories.make_bare_payment(user=user, status=PaymentStatus.EXPIRED)
    assert refused(lambda: Payment.objects.filter(pk=second.pk).update(cart=payment.cart, status="PENDING"))
    Payment.objects.filter(pk=second.pk).update(cart=payment.cart)  # a non-pending one may share the cart


def test_a_verified_event_id_is_claimed_once_per_gateway():
    WebhookEvent.objects.create(gateway="razorpay", body="{}", event_id="evt", is_claimed=True)
    assert refused(lambda: WebhookEvent.objects.create(gateway="razorpay", body="{}", event_id="evt", is_claimed=True))
    WebhookEvent.objects.create(gateway="razorpay", body="{}", event_id="evt")  # a duplicate, kept unclaimed
    WebhookEvent.objects.create(gateway="phonepe", body="{}", event_id="evt", is_claimed=True)


def test_catalog_backstops_refuse_overselling(db):
    variant = factories.make_variant(stock=1)
    slot = factories.make_slot(package=factories.make_package(), capacity=1)
    assert refused(lambda: Variant.objects.filter(pk=variant.pk).update(reserved=2))
    assert refused(lambda: Slot.objects.filter(pk=slot.pk).update(taken=2))
