"""The statements each benchmarked scenario sends (docs/benchmarks.md) do not grow with what the cart holds: a cart of
one product line, one slot and one plan costs the same number of queries as a cart of many product lines, two
services and a plan; the webhook intake is one statement on PostgreSQL whatever the cart. Counted, never timed."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import client_for
from payfirst.accounts.models import Address, User
from payfirst.testing import factories

pytestmark = pytest.mark.django_db


def _cart(make_user, *, products: int, services: int, index: int) -> tuple[User, int]:
    user = make_user(email=f"counted-{index}@example.com")
    address = Address.objects.create(
        user=user,
        full_name="Asha Rao",
        phone="+919876543210",
        address_line_1="12 MG Road",
        city="Bengaluru",
        state="Karnataka",
        postal_code="560001",
        is_default=True,
    )
    cart = factories.active_cart(user)
    for number in range(products):
        factories.add_product(cart, factories.make_variant(stock=50, name=f"Size {index}-{number}"), 2)
    for _ in range(services):
        package = factories.make_package()
        factories.add_service(cart, package, factories.make_slot(package=package, capacity=5))
    factories.add_plan(cart, factories.make_plan())
    return user, address.pk


def _count(call) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = call()
    assert response.status_code in (200, 201), response.content
    return len(queries)


def _scenarios(make_user, fake_razorpay, *, products: int, services: int, index: int) -> dict[str, int]:
    user, address_id = _cart(make_user, products=products, services=services, index=index)
    client = client_for(user)
    counts = {"cart": _count(lambda: client.get("/api/cart/"))}
    counts["create"] = _count(
        lambda: client.post(
            "/api/payments/create-from-cart/",
            {"gateway": "razorpay", "shipping_address_id": address_id},
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"key-{index}",
        )
    )
    payment = client.get("/api/payments/").json()["results"][0]
    counts["detail"] = _count(lambda: client.get(f"/api/payments/{payment['id']}/"))
    fake_razorpay.settle(payment["gateway_order_id"])
    fields = fake_razorpay.checkout_fields(payment["gateway_order_id"])
    counts["confirm"] = _count(lambda: client.post("/api/payments/confirm-razorpay/", fields, format="json"))
    counts["detail after capture"] = _count(lambda: client.get(f"/api/payments/{payment['id']}/"))
    return counts


def test_each_scenario_sends_as_many_queries_for_a_big_cart_as_for_a_small_one(make_user, fake_razorpay):
    small = _scenarios(make_user, fake_razorpay, products=1, services=1, index=1)
    big = _scenarios(make_user, fake_razorpay, products=4, services=2, index=2)
    assert big == small
    # Pinned, so that a new round trip shows up here (the same on SQLite and PostgreSQL; each transaction's BEGIN and
    # COMMIT counted as the test's SAVEPOINT and RELEASE). Checkout's share, statement by statement, is listed in
    # docs/benchmarks.md. The cart and a payment's detail are one statement each, the signed-in user's row included
    # (cart/snapshot.py, payments/snapshot.py), captured or not. The confirm's count includes queueing the capture's
    # e-mail, in the capture's transaction.
    assert small == {"cart": 1, "create": 21, "detail": 1, "confirm": 33, "detail after capture": 1}


def test_webhook_intake_sends_as_many_queries_for_a_big_cart_as_for_a_small_one(make_user, fake_razorpay):
    from payfirst.payments.services import create_payment_for_cart
    from payfirst.payments.tests.test_webhooks import deliver

    counts = []
    for index, (products, services) in enumerate(((1, 1), (4, 2)), start=1):
        user, address_id = _cart(make_user, products=products, services=services, index=index)
        pending = create_payment_for_cart(user=user, gateway="razorpay", shipping_address_id=address_id).payment
        fake_razorpay.settle(pending.gateway_order_id)
        delivery = fake_razorpay.webhook(
            event_id=f"evt_{index}", name="payment.captured", gateway_order_id=pending.gateway_order_id
        )
        counts.append(_count(lambda delivery=delivery: deliver(*delivery)))
    assert counts[0] == counts[1]
    # PostgreSQL: one statement stores the delivery, claims its event, queues its task and tests the source's
    # forged-delivery mark (payments/locks.py: store_verified_webhook). SQLite: the same as four statements in a
    # savepoint (in-process: nothing to save by joining them).
    assert counts[0] == (1 if connection.vendor == "postgresql" else 5)


def test_catalog_list_sends_as_many_queries_for_many_products_as_for_one(api_client):
    factories.make_variant(name="Only")
    one = _count(lambda: api_client.get("/api/catalog/products/"))
    for number in range(6):
        factories.make_variant(name=f"More {number}")
    assert _count(lambda: api_client.get("/api/catalog/products/")) == one
