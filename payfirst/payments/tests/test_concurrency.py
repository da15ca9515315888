"""Races on PostgreSQL with real threads, each on its own connection, repeated: exactly-once capture through every
door at once, never overselling the last unit or place, one pending payment per cart, idempotency keys in flight,
and expiry racing a capture."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from conftest import client_for
from payfirst.accounts.models import Address
from payfirst.cart.errors import InvalidPromoCode
from payfirst.cart.models import Cart, PromoCode, PromoRedemption
from payfirst.catalog.inventory import InsufficientStock, SlotFull
from payfirst.catalog.models import Slot
from payfirst.core.errors import AppError
from payfirst.fulfilment.models import Booking, Order, Subscription
from payfirst.payments import services
from payfirst.payments.errors import PaymentInProgress
from payfirst.payments.models import Payment, PaymentEvent, Refund, ReservationState
from payfirst.payments.states import EventSource, PaymentStatus
from payfirst.payments.tests.flows import receive_and_process
from payfirst.testing import factories
from payfirst.testing.concurrency import run_concurrently

S = PaymentStatus
ROUNDS = 5
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def webhook_outcome(headers: dict[str, str], body: bytes) -> str:
    return receive_and_process(headers=headers, body=body)


def new_address(user) -> Address:
    return Address.objects.create(
        user=user, full_name="R", phone="9876543210", address_line_1="x", city="y", state="z", postal_code="560001"
    )


def test_capture_is_exactly_once_under_concurrent_confirm_webhooks_redirect_and_reconcile(make_user, fake_razorpay):
    for _ in range(ROUNDS):
        buyer = make_user()
        variant = factories.make_variant(stock=5)
        package = factories.make_package()
        slot = factories.make_slot(package=package, capacity=1)
        cart = factories.active_cart(buyer)
        factories.add_product(cart, variant, 2)
        factories.add_service(cart, package, slot)
        factories.add_plan(cart, factories.make_plan())
        payment = services.create_payment_for_cart(
            user=buyer, gateway="razorpay", shipping_address_id=new_address(buyer).pk
        ).payment
        fake_razorpay.settle(payment.gateway_order_id)
        duplicate = fake_razorpay.webhook(
            event_id=f"evt_{payment.pk}", name="payment.captured", gateway_order_id=payment.gateway_order_id
        )
        other = fake_razorpay.webhook(
            event_id=f"evt_{payment.pk}_paid", name="order.paid", gateway_order_id=payment.gateway_order_id
        )
        calls: list[Callable[[], Any]] = [
            partial(services.sync_payment, payment=payment, source=EventSource.CONFIRM),
            partial(services.sync_payment, payment=payment, source=EventSource.REDIRECT),
            partial(services.sync_payment, payment=payment, source=EventSource.RECONCILE),
            partial(webhook_outcome, *duplicate),
            partial(webhook_outcome, *duplicate),
            partial(webhook_outcome, *duplicate),
            partial(webhook_outcome, *other),
        ]
        results = run_concurrently(calls)
        assert not [r for r in results if isinstance(r, Exception)], results
        assert Counter(results[:3])["captured"] <= 1
        payment.refresh_from_db()
        assert payment.status == S.CAPTURED and payment.reservation == ReservationState.CONSUMED
        assert Order.objects.filter(payment=payment).count() == 1
        assert Booking.objects.filter(payment=payment).count() == 1
        assert Subscription.objects.filter(payment=payment).count() == 1
        assert PaymentEvent.objects.filter(payment=payment, to_status=S.CAPTURED).count() == 1
        variant.refresh_from_db()
        slot.refresh_from_db()
        assert (variant.stock_on_hand, variant.reserved, slot.taken) == (3, 0, 1)


@pytest.mark.parametrize("what", ["last_unit", "last_place"])
def test_buyers_racing_for_the_last_unit_or_place_never_oversell(make_user, fake_razorpay, what):
    buyers_per_round = 8
    for _ in range(ROUNDS):
        variant = factories.make_variant(stock=1)
        package = factories.make_package()
        slot = factories.make_slot(package=package, capacity=1)
        buyers = []
        for _ in range(buyers_per_round):
            buyer = make_user()
            cart = factories.active_cart(buyer)
            if what == "last_unit":
                factories.add_product(cart, variant, 1)
            else:
                factories.add_service(cart, package, slot)
            buyers.append((buyer, new_address(buyer).pk if what == "last_unit" else None))
        orders_before = fake_razorpay.calls["create_order"]
        results = run_concurrently(
            [
                (
                    lambda b=buyer, a=address: services.create_payment_for_cart(
                        user=b, gateway="razorpay", shipping_address_id=a
                    )
                )
                for buyer, address in buyers
            ]
        )
        winners = [r for r in results if isinstance(r, services.CreatedPayment)]
        losers = [r for r in results if isinstance(r, InsufficientStock | SlotFull)]
        assert len(winners) == 1 and len(losers) == buyers_per_round - 1, results
        # Losers were refused before paying: exactly one gateway order was opened.
        assert fake_razorpay.calls["create_order"] - orders_before == 1
        variant.refresh_from_db()
        slot.refresh_from_db()
        if what == "last_unit":
            assert (variant.stock_on_hand, variant.reserved) == (1, 1)
        else:
            assert slot.taken == 1
        # The winner pays; still nothing oversold.
        winner = winners[0].payment
        fake_razorpay.settle(winner.gateway_order_id)
        assert services.sync_payment(payment=winner, source=EventSource.CONFIRM) == "captured"
        variant.refresh_from_db()
        slot.refresh_from_db()
        assert variant.reserved <= variant.stock_on_hand and slot.taken <= slot.capacity


def test_double_submitted_checkout_of_one_cart_makes_one_payment(make_user, fake_razorpay):
    for _ in range(ROUNDS):
        buyer = make_user()
        package = factories.make_package()
        factories.add_service(factories.active_cart(buyer), package, factories.make_slot(package=package, capacity=5))
        results = run_concurrently(
            [partial(services.create_payment_for_cart, user=buyer, gateway="razorpay") for _ in range(4)]
        )
        payments = {r.payment.pk for r in results if isinstance(r, services.CreatedPayment)}
        unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, PaymentInProgress)]
        assert not unexpected, unexpected
        assert len(payments) == 1
        assert Payment.objects.filter(user=buyer, status=S.PENDING).count() == 1
        assert Payment.objects.filter(user=buyer).count() == 1
        assert Slot.objects.get(service=package.service).taken == 1


def test_idempotency_key_while_the_first_request_is_at_the_gateway_is_409(make_user, fake_razorpay):
    for round_number in range(ROUNDS):
        _idempotency_key_in_flight_round(make_user, fake_razorpay, key=f"key-{round_number}")


def _idempotency_key_in_flight_round(make_user, fake_razorpay, *, key: str) -> None:
    buyer = make_user()
    factories.add_plan(factories.active_cart(buyer), factories.make_plan())
    at_gateway, release = threading.Event(), threading.Event()

    def hold(operation: str) -> None:
        if operation == "create_order":
            at_gateway.set()
            release.wait(timeout=10)

    fake_razorpay.on_call = hold
    results: list[Any] = []

    def first() -> None:
        try:
            results.append(
                client_for(buyer).post(
                    "/api/payments/create-from-cart/",
                    {"gateway": "razorpay"},
                    format="json",
                    HTTP_IDEMPOTENCY_KEY=key,
                )
            )
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    assert at_gateway.wait(timeout=10)
    try:
        second = client_for(buyer).post(
            "/api/payments/create-from-cart/", {"gateway": "razorpay"}, format="json", HTTP_IDEMPOTENCY_KEY=key
        )
        changed = client_for(buyer).post(
            "/api/payments/create-from-cart/", {"gateway": "phonepe"}, format="json", HTTP_IDEMPOTENCY_KEY=key
        )
    finally:
        release.set()
        thread.join(timeout=20)
        fake_razorpay.on_call = None
    assert second.status_code == 409 and second.json()["error"]["code"] == "idempotency_key_in_use"
    assert changed.status_code == 422
    assert results[0].status_code == 201
    replay = client_for(buyer).post(
        "/api/payments/create-from-cart/", {"gateway": "razorpay"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert (replay.status_code, replay.json()) == (201, results[0].json())


def test_expiry_racing_a_capture_never_loses_the_money_or_doubles_the_fulfilment(make_user, fake_razorpay):
    for _ in range(ROUNDS):
        buyer = make_user()
        package = factories.make_package()
        slot = factories.make_slot(package=package, capacity=1)
        factories.add_service(factories.active_cart(buyer), package, slot)
        payment = services.create_payment_for_cart(user=buyer, gateway="razorpay").payment
        Payment.objects.filter(pk=payment.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        fake_razorpay.settle(payment.gateway_order_id)
        results = run_concurrently(
            [
                partial(services.expire_payment, payment_id=payment.pk),
                partial(services.sync_payment, payment=payment, source=EventSource.WEBHOOK),
                services.expire_stale_payments,
            ]
        )
        assert not [r for r in results if isinstance(r, Exception)], results
        payment.refresh_from_db()
        slot.refresh_from_db()
        assert payment.status == S.CAPTURED
        # Whichever won, the money ends fulfilled (re-taken place) or refunded, exactly once, and never oversold.
        bookings = Booking.objects.filter(payment=payment).count()
        refunds = Refund.objects.filter(payment=payment).count()
        assert (bookings, refunds) in {(1, 0), (0, 1)}
        assert slot.taken == bookings == 1  # the place was free, so it is always re-taken


def test_cancel_racing_a_capture_ends_consistent(make_user, fake_razorpay):
    for _ in range(ROUNDS):
        buyer = make_user()
        variant = factories.make_variant(stock=3)
        factories.add_product(factories.active_cart(buyer), variant, 2)
        payment = services.create_payment_for_cart(
            user=buyer, gateway="razorpay", shipping_address_id=new_address(buyer).pk
        ).payment
        fake_razorpay.settle(payment.gateway_order_id)
        results = run_concurrently(
            [
                partial(services.cancel_payment, payment_id=payment.pk, actor=buyer),
                partial(services.sync_payment, payment=payment, source=EventSource.CONFIRM),
            ]
        )
        assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, AppError)], results
        payment.refresh_from_db()
        variant.refresh_from_db()
        assert payment.status == S.CAPTURED  # a capture after a cancel is still a capture (re-taken here)
        assert Order.objects.filter(payment=payment).count() == 1
        assert (variant.stock_on_hand, variant.reserved) == (1, 0)


def test_late_capture_racing_a_new_buyer_for_the_last_place_never_oversells(make_user, fake_razorpay):
    for _ in range(ROUNDS):
        package = factories.make_package()
        slot = factories.make_slot(package=package, capacity=1)
        late, newcomer = make_user(), make_user()
        factories.add_service(factories.active_cart(late), package, slot)
        expired = services.create_payment_for_cart(user=late, gateway="razorpay").payment
        Payment.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        assert services.expire_payment(payment_id=expired.pk)
        factories.add_service(factories.active_cart(newcomer), package, slot)
        fake_razorpay.settle(expired.gateway_order_id)  # the expired payment's money arrives...
        results = run_concurrently(
            [
                partial(services.sync_payment, payment=expired, source=EventSource.WEBHOOK),
                # ...while someone else checks out the same, now free, place.
                partial(services.create_payment_for_cart, user=newcomer, gateway="razorpay"),
            ]
        )
        unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, SlotFull)]
        assert not unexpected, results
        slot.refresh_from_db()
        assert slot.taken == 1  # one place, held or sold exactly once
        expired.refresh_from_db()
        assert expired.status == S.CAPTURED
        if isinstance(results[1], services.CreatedPayment):
            # The newcomer got the place first: the late money is refunded, with its reason, and not booked.
            assert results[0] == "auto_refund"
            assert Refund.objects.filter(payment=expired, is_automatic=True).count() == 1
            assert not Booking.objects.filter(payment=expired).exists()
        else:
            # The late capture took the place back first: booked, and the newcomer was refused before paying.
            assert results[0] == "captured" and isinstance(results[1], SlotFull)
            assert Booking.objects.filter(payment=expired).count() == 1
            assert not Refund.objects.filter(payment=expired).exists()


def test_five_concurrent_checkouts_with_a_single_use_promo_code_give_exactly_one_use(make_user, fake_razorpay):
    """The promo code's limit is held like stock: the database's conditional UPDATE lets one checkout take the last
    use; the others are refused before paying, holding nothing. Then the winner pays: one use, none held."""
    for _ in range(ROUNDS):
        promo = factories.make_promo(flat=1000)
        PromoCode.objects.filter(pk=promo.pk).update(max_uses=1)
        variant = factories.make_variant(stock=50)
        buyers = []
        for _ in range(5):
            buyer = make_user()
            cart = factories.active_cart(buyer)
            factories.add_product(cart, variant, 1)
            Cart.objects.filter(pk=cart.pk).update(promo=promo)
            buyers.append((buyer, new_address(buyer).pk))
        results = run_concurrently(
            [
                (
                    lambda b=buyer, a=address: services.create_payment_for_cart(
                        user=b, gateway="razorpay", shipping_address_id=a
                    )
                )
                for buyer, address in buyers
            ]
        )
        winners = [r for r in results if isinstance(r, services.CreatedPayment)]
        losers = [r for r in results if isinstance(r, InvalidPromoCode)]
        assert len(winners) == 1 and len(losers) == 4, results
        promo.refresh_from_db()
        variant.refresh_from_db()
        assert (promo.uses_count, promo.held_count, variant.reserved) == (0, 1, 1)
        winner = winners[0].payment
        fake_razorpay.settle(winner.gateway_order_id)
        assert services.sync_payment(payment=winner, source=EventSource.CONFIRM) == "captured"
        promo.refresh_from_db()
        assert (promo.uses_count, promo.held_count) == (1, 0)
        assert PromoRedemption.objects.filter(promo=promo).count() == 1
