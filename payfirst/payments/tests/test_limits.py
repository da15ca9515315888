"""Per-customer caps at checkout (payments/limits.py): live payments per customer and places held in one slot."""

from __future__ import annotations

from datetime import time

import pytest
from django.test import override_settings

from payfirst.accounts.models import User
from payfirst.cart.models import Cart, CartStatus
from payfirst.payments.limits import SlotHoldLimit, TooManyPendingPayments
from payfirst.payments.models import Payment
from payfirst.payments.states import PaymentStatus
from payfirst.payments.tests.test_services import create
from payfirst.testing import factories

pytestmark = pytest.mark.django_db


def _leave_cart(user: User) -> None:
    """The customer walks away from the cart (its payment stays pending) and starts another."""
    Cart.objects.filter(user=user, status=CartStatus.ACTIVE).update(status=CartStatus.ABANDONED)


@override_settings(PAYMENTS_MAX_PENDING_PER_CUSTOMER=2)
def test_a_customer_cannot_hold_more_pending_payments_than_the_cap(user, address, fake_razorpay):
    for _ in range(2):
        factories.add_product(factories.active_cart(user), factories.make_variant(stock=5))
        create(user, address)
        _leave_cart(user)
    factories.add_product(factories.active_cart(user), factories.make_variant(stock=5))
    with pytest.raises(TooManyPendingPayments) as refused:
        create(user, address)
    assert refused.value.status == 409 and "2 payments" in refused.value.message
    assert Payment.objects.filter(user=user, status=PaymentStatus.PENDING).count() == 2


@override_settings(PAYMENTS_MAX_PENDING_PER_CUSTOMER=1)
def test_the_carts_own_pending_payment_does_not_count_against_its_replacement(user, address, fake_razorpay):
    cart = factories.active_cart(user)
    factories.add_product(cart, factories.make_variant(stock=5))
    first = create(user, address).payment
    factories.add_product(cart, factories.make_variant(stock=5))  # the cart changed: a new payment supersedes
    second = create(user, address).payment
    assert second.pk != first.pk
    first.refresh_from_db()
    assert first.status == PaymentStatus.SUPERSEDED


@override_settings(PAYMENTS_MAX_PENDING_PER_CUSTOMER=0)
def test_a_cap_of_zero_is_off(user, address, fake_razorpay):
    for _ in range(4):
        factories.add_product(factories.active_cart(user), factories.make_variant(stock=5))
        create(user, address)
        _leave_cart(user)
    assert Payment.objects.filter(user=user, status=PaymentStatus.PENDING).count() == 4


@override_settings(PAYMENTS_MAX_SLOT_HOLDS_PER_CUSTOMER=1, PAYMENTS_MAX_PENDING_PER_CUSTOMER=5)
def test_a_customer_cannot_hold_more_places_in_one_slot_than_the_cap(user, fake_razorpay, other_user):
    package = factories.make_package()
    slot = factories.make_slot(package=package, capacity=5)
    factories.add_service(factories.active_cart(user), package, slot)
    create(user)
    _leave_cart(user)
    factories.add_service(factories.active_cart(user), package, slot)
    with pytest.raises(SlotHoldLimit) as refused:
        create(user)
    assert refused.value.status == 409 and refused.value.code == "slot_hold_limit"
    slot.refresh_from_db()
    assert slot.taken == 1  # nothing more was reserved

    # Another slot, or another customer in the same slot, is not affected.
    other_slot = factories.make_slot(package=package, capacity=5, at=time(11, 0))
    Cart.objects.filter(user=user, status=CartStatus.ACTIVE).delete()
    factories.add_service(factories.active_cart(user), package, other_slot)
    create(user)
    factories.add_service(factories.active_cart(other_user), package, slot)
    create(other_user)


@override_settings(PAYMENTS_MAX_PENDING_PER_CUSTOMER=1)
def test_the_cap_answers_409_in_the_error_shape_at_the_api(user, auth_client, address, fake_razorpay):
    factories.add_product(factories.active_cart(user), factories.make_variant(stock=5))
    assert (
        auth_client.post(
            "/api/payments/create-from-cart/", {"gateway": "razorpay", "shipping_address_id": address.pk}, format="json"
        ).status_code
        == 201
    )
    _leave_cart(user)
    factories.add_product(factories.active_cart(user), factories.make_variant(stock=5))
    response = auth_client.post(
        "/api/payments/create-from-cart/", {"gateway": "razorpay", "shipping_address_id": address.pk}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "too_many_pending_payments"
