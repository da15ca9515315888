"""Fixtures for payments tests: fake gateways swapped in through the registry, a catalog, an address, a cart."""

from __future__ import annotations

import pytest

from payfirst.accounts.models import Address
from payfirst.gateways.fake import FakeGateway
from payfirst.gateways.registry import use_gateway
from payfirst.payments.tests import factories


@pytest.fixture
def fake_razorpay():
    gateway = FakeGateway(name="razorpay")
    with use_gateway("razorpay", gateway):
        yield gateway


@pytest.fixture
def fake_phonepe():
    gateway = FakeGateway(name="phonepe")
    with use_gateway("phonepe", gateway):
        yield gateway


@pytest.fixture
def address(user):
    return Address.objects.create(
        user=user,
        full_name="Asha Rao",
        phone="+919876543210",
        address_line_1="12 MG Road",
        city="Bengaluru",
        state="Karnataka",
        postal_code="560001",
        is_default=True,
    )


@pytest.fixture
def variant(db):
    return factories.make_variant(price=49900, stock=5)


@pytest.fixture
def package(db):
    return factories.make_package(price=250000)


@pytest.fixture
def slot(package):
    return factories.make_slot(package=package, capacity=2)


@pytest.fixture
def plan(db):
    return factories.make_plan(price=99900)


@pytest.fixture
def mixed_cart(user, variant, package, slot, plan):
    """A cart with a product (x2), a service on a slot and a plan: 2*49900 + 250000 + 99900 = 449700 paise."""
    cart = factories.active_cart(user)
    factories.add_product(cart, variant, 2)
    factories.add_service(cart, package, slot)
    factories.add_plan(cart, plan)
    return cart
