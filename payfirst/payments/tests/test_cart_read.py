"""GET /api/cart/ reads the user, the cart, its lines, its promo code and what the customer's own pending payment
holds in one statement (cart/snapshot.py), and prices exactly what the ORM's reads price; the user row it reads
is checked as authentication checks it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import client_for
from payfirst.cart.models import Cart, CartStatus, PromoRedemption, RedemptionState
from payfirst.cart.pricing import price_cart, price_lines
from payfirst.cart.snapshot import cart_snapshot
from payfirst.payments.checkout import create_payment_for_cart
from payfirst.testing import factories

pytestmark = pytest.mark.django_db


def _address(user) -> int:
    return factories.make_address(user=user, is_default=True).pk


@pytest.fixture
def full_cart(user, other_user, fake_razorpay):
    """A cart of two products, a service slot and a plan, with a per-user-limited promo code used once before, and
    a pending payment of its own holding its stock and place; another customer's pending payment holds some too."""
    diya, lamp = factories.make_variant(stock=5, name="Large"), factories.make_variant(stock=9, name="Small")
    package = factories.make_package()
    slot = factories.make_slot(package=package, capacity=3)
    plan = factories.make_plan()
    theirs = factories.active_cart(other_user)
    factories.add_product(theirs, diya, 1)
    create_payment_for_cart(user=other_user, gateway="razorpay", shipping_address_id=_address(other_user))

    promo = factories.make_promo(flat=5000)
    promo.max_uses_per_user = 2
    promo.save()
    PromoRedemption.objects.create(
        promo=promo, user=user, payment_reference="earlier", discount=5000, state=RedemptionState.FINAL
    )
    cart = factories.active_cart(user)
    factories.add_product(cart, diya, 3)
    factories.add_product(cart, lamp, 1)
    factories.add_service(cart, package, slot)
    factories.add_plan(cart, plan)
    cart.promo = promo
    cart.save()
    create_payment_for_cart(user=user, gateway="razorpay", shipping_address_id=_address(user))
    return Cart.objects.get(user=user, status=CartStatus.ACTIVE)


def test_the_one_statement_read_prices_the_cart_as_the_orm_reads_do(user, full_cart):
    snapshot = cart_snapshot(user_id=user.pk)
    assert snapshot.user == user and snapshot.cart == full_cart
    assert snapshot.promo_uses == 1
    from_snapshot = price_lines(
        cart=snapshot.cart,
        items=snapshot.items,
        holds=snapshot.holds,
        promo=snapshot.promo,
        uses_by_user=snapshot.promo_uses,
    )
    from_orm = price_cart(cart=full_cart)
    assert from_snapshot == from_orm
    diya = from_snapshot.lines[0]
    # 5 on hand, 3 held by this cart's own payment (counted back in), 1 by the other customer's: 4 for this cart.
    assert (diya.quantity, diya.stock, diya.available) == (3, 4, True)
    assert from_snapshot.lines[2].slot_remaining == 3
    assert from_snapshot.discount == 5000 and from_snapshot.promo is not None


def test_get_cart_sends_one_statement(user, full_cart):
    client = client_for(user)
    client.get("/api/cart/")  # the connection is set up
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/cart/")
    assert response.status_code == 200, response.content
    assert len(response.json()["items"]) == 4
    assert len(queries) == 1, [query["sql"] for query in queries]


def test_a_first_visit_creates_the_cart(user):
    response = client_for(user).get("/api/cart/")
    assert response.status_code == 200
    assert response.json()["items"] == [] and Cart.objects.filter(user=user, status=CartStatus.ACTIVE).count() == 1


@pytest.mark.parametrize("method", ["get", "delete"])
def test_a_deactivated_users_token_is_refused_as_before(user, full_cart, method):
    client = client_for(user)
    user.is_active = False
    user.save()
    response = getattr(client, method)("/api/cart/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert Cart.objects.get(pk=full_cart.pk).items.count() == 4


def test_a_deleted_users_token_is_refused(make_user):
    gone = make_user(email="gone@example.com")
    client = client_for(gone)
    gone.delete()
    response = client.get("/api/cart/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert not Cart.objects.filter(user_id=gone.pk).exists()


def test_a_payment_is_read_in_one_statement_with_its_fulfilments(user, full_cart, fake_razorpay):
    from payfirst.fulfilment.models import Booking, Order, Subscription
    from payfirst.gateways.base import GatewayStatus
    from payfirst.payments import services
    from payfirst.payments.models import Payment
    from payfirst.payments.states import EventSource

    payment = Payment.objects.get(cart=full_cart)
    client = client_for(user)
    before = client.get(f"/api/payments/{payment.pk}/").json()
    assert before["fulfilments"] == [] and before["cart_id"] == full_cart.cart_id
    fake_razorpay.settle(payment.gateway_order_id, GatewayStatus.CAPTURED)
    services.sync_payment(payment=payment, source=EventSource.CONFIRM)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/api/payments/{payment.pk}/")
    assert response.status_code == 200, response.content
    assert len(queries) == 1
    order = Order.objects.get(payment=payment)
    booking = Booking.objects.get(payment=payment)
    subscription = Subscription.objects.get(payment=payment)
    assert response.json()["status"] == "CAPTURED"
    assert response.json()["fulfilments"] == [
        {"type": "order", "id": order.pk, "reference": order.order_number},
        {"type": "booking", "id": booking.pk, "reference": booking.book_id},
        {"type": "subscription", "id": subscription.pk, "reference": subscription.plan_code},
    ]


def test_a_payment_is_visible_to_its_owner_and_staff_only(user, other_user, staff_user, full_cart):
    from payfirst.payments.models import Payment

    payment = Payment.objects.get(cart=full_cart)
    assert client_for(other_user).get(f"/api/payments/{payment.pk}/").status_code == 404
    assert client_for(staff_user).get(f"/api/payments/{payment.pk}/").json()["id"] == payment.pk
    assert client_for(user).get("/api/payments/999999/").status_code == 404
    user.is_active = False
    user.save()
    assert client_for(user).get(f"/api/payments/{payment.pk}/").json()["error"]["code"] == "authentication_failed"


def test_cart_body_is_what_the_serializer_renders(user, full_cart, fake_razorpay):
    import json

    from payfirst.cart.apis import CartOutputSerializer, cart_body
    from payfirst.cart.services import remove_promo

    bodies = [price_cart(cart=full_cart), remove_promo(user=user)]
    full_cart.notices = ["Brass Diya — Large is no longer sold and was removed from your cart."]
    full_cart.promo_notice = "Promo code X has expired. It was removed from your cart."
    bodies.append(price_cart(cart=full_cart))
    for priced in bodies:
        assert json.dumps(cart_body(priced)) == json.dumps(CartOutputSerializer(priced).data)
    assert {line["kind"] for line in cart_body(bodies[0])["items"]} == {"product", "service", "plan"}


def test_payment_body_is_what_the_serializer_renders(user, full_cart, fake_razorpay):
    import json

    from payfirst.fulfilment.selectors import fulfilment_refs
    from payfirst.gateways.base import GatewayStatus
    from payfirst.payments import services
    from payfirst.payments.models import Payment
    from payfirst.payments.serializers import PaymentOutput, payment_body
    from payfirst.payments.states import EventSource

    payment = Payment.objects.get(cart=full_cart)
    pending = json.dumps(payment_body(payment, []))
    assert pending == json.dumps(PaymentOutput(payment, context={"fulfilments": {}}).data)
    fake_razorpay.settle(payment.gateway_order_id, GatewayStatus.CAPTURED)
    services.sync_payment(payment=payment, source=EventSource.CONFIRM)
    payment.refresh_from_db()
    refs = fulfilment_refs(payment_ids=[payment.pk])
    captured = payment_body(payment, refs[payment.pk])
    assert json.dumps(captured) == json.dumps(PaymentOutput(payment, context={"fulfilments": refs}).data)
    assert captured["captured_at"] is not None and len(captured["fulfilments"]) == 3


@pytest.mark.parametrize("path", ["999999", "not-a-number", "0"])
def test_a_deactivated_users_token_is_a_401_before_a_404(user, path):
    client = client_for(user)
    assert client.get(f"/api/payments/{path}/").status_code == 404
    user.is_active = False
    user.save()
    response = client.get(f"/api/payments/{path}/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
