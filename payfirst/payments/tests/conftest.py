"""Fixtures for payments tests: fake gateways swapped in through the registry, a catalog, an address, a cart; and
for the end-to-end tests, payfirst and its sandbox on a live server with signed-in HTTP clients."""

from __future__ import annotations

import gc

import httpx
import pytest
from django.db import connection
from rest_framework_simplejwt.tokens import RefreshToken

from payfirst.accounts.models import Address
from payfirst.gateways.fake import FakeGateway
from payfirst.gateways.registry import use_gateway
from payfirst.testing import factories


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


@pytest.fixture
def server(live_server, sandbox, settings):
    """payfirst on a live server and the sandbox server (its own process), pointed at each other as in `make run`.

    The live server's request threads close their database connections after each request (CONN_MAX_AGE 0 on the
    shared settings dict), so no session outlives the test and the test database can be dropped afterwards.
    """
    max_age = connection.settings_dict["CONN_MAX_AGE"]
    connection.settings_dict["CONN_MAX_AGE"] = 0
    settings.PAYFIRST_PUBLIC_BASE_URL = live_server.url
    settings.FRONTEND_BASE_URL = "http://localhost:3000"
    yield live_server.url
    # The adapters' HTTP sessions keep sockets to the live server open until they are collected; collecting them
    # now, while the server runs, lets its request threads finish cleanly instead of after it has stopped.
    gc.collect()
    connection.settings_dict["CONN_MAX_AGE"] = max_age


@pytest.fixture
def api(server):
    """Signed-in HTTP clients, closed when the test ends: a keep-alive socket left open would make the live server's
    request thread close its (shared, on SQLite) database connection later, after the server has stopped."""
    opened: list[httpx.Client] = []

    def for_user(base: str, user) -> httpx.Client:
        token = str(RefreshToken.for_user(user).access_token)
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        opened.append(client)
        return client

    yield for_user
    for client in opened:
        client.close()


@pytest.fixture
def catalog(db):
    variant = factories.make_variant(price=49900, stock=5)
    package = factories.make_package(price=250000)
    slot = factories.make_slot(package=package, capacity=3)
    plan = factories.make_plan(price=99900)
    return variant, slot, plan
