"""Payment services against the FakeGateway: create from cart, capture exactly once, failures, late captures,
cancel and expiry, and the fixed query budget of the hot path."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from payfirst.accounts.models import Address
from payfirst.cart.errors import InvalidPromoCode
from payfirst.cart.models import Cart, CartStatus, PromoRedemption, RedemptionState
from payfirst.cart.pricing import price_cart
from payfirst.catalog.inventory import InsufficientStock, SlotFull
from payfirst.catalog.models import Slot, Variant
from payfirst.core.errors import GatewayFailed, InvalidState, NotFound
from payfirst.core.money import Paise
from payfirst.fulfilment.models import Booking, Order, Subscription
from payfirst.fulfilment.selectors import fulfilment_refs
from payfirst.gateways.base import GatewayRejected, GatewayStatus, GatewayUnavailable
from payfirst.ops.tasks import run_queued_tasks
from payfirst.payments import capture, checkout, services
from payfirst.payments.errors import (
    CartEmpty,
    InvalidRedirectUrl,
    PaymentInProgress,
    ShippingAddressRequired,
)
from payfirst.payments.models import Payment, PaymentEvent, PaymentLine, Refund, RefundStatus, ReservationState
from payfirst.payments.services import SyncOutcome
from payfirst.payments.states import EventSource, PaymentStatus
from payfirst.testing import factories

S = PaymentStatus


class ProcessDied(Exception):
    """Stands for the process being killed at this point."""


pytestmark = pytest.mark.django_db


def create(user, address=None, gateway="razorpay", **extra):
    return services.create_payment_for_cart(
        user=user, gateway=gateway, shipping_address_id=address.pk if address else None, **extra
    )


def counters(variant: Variant, slot: Slot) -> tuple[int, int, int]:
    variant.refresh_from_db()
    slot.refresh_from_db()
    return variant.stock_on_hand, variant.reserved, slot.taken


# ---- create from cart ------------------------------------------------------------------------------------------


def test_create_payment_prices_from_the_database_snapshots_and_reserves(
    user, address, mixed_cart, variant, slot, fake_razorpay
):
    result = create(user, address)
    payment = result.payment
    assert result.created
    assert (payment.status, payment.amount, payment.subtotal, payment.discount) == (S.PENDING, 449700, 449700, 0)
    assert payment.items_count == 4
    assert payment.gateway_order_id == fake_razorpay.order_for(payment.reference).gateway_order_id
    assert fake_razorpay.orders[payment.gateway_order_id].amount.value == 449700
    assert payment.shipping_address["postal_code"] == "560001"
    assert payment.billing_address == payment.shipping_address
    lines = list(PaymentLine.objects.filter(payment=payment).order_by("id"))
    assert [(line.kind, line.quantity, line.unit_price, line.total) for line in lines] == [
        ("product", 2, 49900, 99800),
        ("service", 1, 250000, 250000),
        ("plan", 1, 99900, 99900),
    ]
    assert lines[1].selected_date == slot.date and lines[2].plan_id is not None
    assert counters(variant, slot) == (5, 2, 1)
    event = PaymentEvent.objects.get(payment=payment)
    assert (event.from_status, event.to_status, event.source, event.actor_id) == ("", S.PENDING, "api", user.pk)


def test_create_payment_uses_catalog_price_even_after_it_changes(user, address, variant, fake_razorpay):
    cart = factories.active_cart(user)
    factories.add_product(cart, variant, 1)
    Variant.objects.filter(pk=variant.pk).update(price=12345)
    assert create(user, address).payment.amount == 12345


def test_create_payment_for_an_identical_cart_returns_the_same_pending_payment(
    user, address, mixed_cart, variant, slot, fake_razorpay
):
    first = create(user, address).payment
    again = create(user, address)
    assert not again.created and again.payment.pk == first.pk
    assert fake_razorpay.calls["create_order"] == 1
    assert counters(variant, slot) == (5, 2, 1)


def test_create_payment_for_a_changed_cart_supersedes_the_old_one_and_releases_it(
    user, address, mixed_cart, variant, slot, fake_razorpay
):
    first = create(user, address).payment
    mixed_cart.items.filter(kind="product").update(quantity=3)
    second = create(user, address)
    assert second.created and second.payment.pk != first.pk
    first.refresh_from_db()
    assert first.status == S.SUPERSEDED and first.reservation == ReservationState.RELEASED
    assert counters(variant, slot) == (5, 3, 1)  # 3 held by the new payment, not 2 + 3
    assert Payment.objects.filter(cart=mixed_cart, status=S.PENDING).count() == 1


def test_create_payment_for_a_grown_cart_that_no_longer_fits_keeps_the_old_payment(
    user, address, mixed_cart, variant, slot, fake_razorpay
):
    first = create(user, address).payment
    mixed_cart.items.filter(kind="product").update(quantity=6)  # 6 > 5 on hand, even with its own 2 given back
    with pytest.raises(InsufficientStock):
        create(user, address)
    first.refresh_from_db()
    assert first.status == S.PENDING and first.reservation == ReservationState.HELD
    assert counters(variant, slot) == (5, 2, 1) and Payment.objects.count() == 1


def test_create_payment_for_a_grown_cart_reuses_its_own_reservation(
    user, address, mixed_cart, variant, slot, fake_razorpay
):
    create(user, address)
    mixed_cart.items.filter(kind="product").update(quantity=5)  # all 5 on hand: fits only by netting the old 2
    second = create(user, address).payment
    assert second.status == S.PENDING and counters(variant, slot) == (5, 5, 1)


def test_create_payment_with_another_gateway_supersedes_the_pending_one(
    user, address, mixed_cart, fake_razorpay, fake_phonepe
):
    first = create(user, address).payment
    second = create(user, address, gateway="phonepe").payment
    first.refresh_from_db()
    assert first.status == S.SUPERSEDED and second.gateway == "phonepe"


def test_create_payment_gateway_error_releases_everything_and_a_retry_works(
    user, address, mixed_cart, variant, slot, fake_razorpay
):
    fake_razorpay.fail_next("create_order", GatewayUnavailable("timeout"))
    with pytest.raises(GatewayFailed):
        create(user, address)
    failed = Payment.objects.get()
    assert failed.status == S.FAILED and failed.reservation == ReservationState.RELEASED
    assert counters(variant, slot) == (5, 0, 0)
    retry = create(user, address)
    assert retry.created and retry.payment.status == S.PENDING and retry.payment.gateway_order_id
    assert counters(variant, slot) == (5, 2, 1)


def test_create_payment_refuses_more_than_the_stock_before_paying(user, address, variant, fake_razorpay):
    cart = factories.active_cart(user)
    factories.add_product(cart, variant, 6)
    with pytest.raises(InsufficientStock):
        create(user, address)
    assert not Payment.objects.exists() and fake_razorpay.calls["create_order"] == 0
    variant.refresh_from_db()
    assert variant.reserved == 0


def test_create_payment_refuses_a_full_slot_and_keeps_other_reservations_untouched(
    user, other_user, address, variant, package, fake_razorpay
):
    full = factories.make_slot(package=package, capacity=1)
    Slot.objects.filter(pk=full.pk).update(taken=1)
    cart = factories.active_cart(user)
    factories.add_product(cart, variant, 1)
    factories.add_service(cart, package, full)
    with pytest.raises(SlotFull):
        create(user, address)
    variant.refresh_from_db()
    assert variant.reserved == 0 and not Payment.objects.exists()


def test_create_payment_needs_a_shipping_address_for_products(user, variant, fake_razorpay):
    factories.add_product(factories.active_cart(user), variant, 1)
    with pytest.raises(ShippingAddressRequired):
        create(user)


def test_create_payment_without_products_needs_no_address(user, package, slot, fake_razorpay):
    factories.add_service(factories.active_cart(user), package, slot)
    payment = create(user).payment
    assert payment.shipping_address is None and payment.amount == 250000


def test_create_payment_refuses_another_users_address(user, other_user, variant, fake_razorpay):
    theirs = Address.objects.create(
        user=other_user,
        full_name="Ravi",
        phone="9876543210",
        address_line_1="x",
        city="y",
        state="z",
        postal_code="110001",
    )
    factories.add_product(factories.active_cart(user), variant, 1)
    with pytest.raises(NotFound):
        create(user, theirs)
    assert not Payment.objects.exists()


def test_create_payment_of_an_empty_cart_is_refused(user, fake_razorpay):
    with pytest.raises(CartEmpty):
        create(user)


@override_settings(FRONTEND_BASE_URL="https://shop.example.com/app", CORS_ALLOWED_ORIGINS=["https://m.example.com"])
@pytest.mark.parametrize(
    "url,ok",
    [
        ("https://shop.example.com/app/thanks?x=1", True),
        ("https://shop.example.com/app", True),
        ("https://m.example.com/anything", True),
        ("https://shop.example.com/other", False),
        ("https://shop.example.com/application", False),
        ("https://shop.example.com.evil.com/app/", False),
        ("http://shop.example.com/app/", False),
        ("javascript:alert(1)", False),
        ("https://user:pw@shop.example.com/app/", False),
    ],
)
def test_validate_redirect_url(url, ok):
    if ok:
        assert services.validate_redirect_url(redirect_url=url) == url
    else:
        with pytest.raises(InvalidRedirectUrl):
            services.validate_redirect_url(redirect_url=url)


@override_settings(PAYFIRST_PUBLIC_BASE_URL="https://pay.example.com", FRONTEND_BASE_URL="http://localhost:3000")
def test_create_payment_phonepe_sends_payfirsts_own_redirect_handler(user, package, slot, fake_phonepe):
    factories.add_service(factories.active_cart(user), package, slot)
    payment = create(user, gateway="phonepe", redirect_url="http://localhost:3000/confirmbooking").payment
    order = fake_phonepe.orders[payment.gateway_order_id]
    token = services.return_token(payment=payment)
    assert order.redirect_url == (
        f"https://pay.example.com/api/payments/redirect/phonepe/?payment_id={payment.pk}&token={token}"
    )
    assert payment.redirect_url == "http://localhost:3000/confirmbooking"
    assert payment.checkout == {"redirect_url": f"https://fake-gateway.invalid/pay/{payment.gateway_order_id}/"}


def test_return_tokens_are_per_payment_and_keyed_by_the_secret_key(user, package, slot, fake_phonepe, settings):
    factories.add_service(factories.active_cart(user), package, slot)
    payment = create(user, gateway="phonepe").payment
    other = Payment(pk=payment.pk + 1, reference=payment.reference)
    token = services.return_token(payment=payment)
    assert services.is_return_token_valid(payment=payment, token=token)
    assert not services.is_return_token_valid(payment=other, token=token)
    assert services.return_token(payment=other) != token
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-000000000000"
    assert services.return_token(payment=payment) != token


@override_settings(PAYFIRST_PUBLIC_BASE_URL="https://pay.example.com")
def test_create_payment_razorpay_gives_checkout_its_key_and_callback_url(user, package, slot, fake_razorpay):
    factories.add_service(factories.active_cart(user), package, slot)
    create(user, gateway="razorpay")
    order = next(iter(fake_razorpay.orders.values()))
    assert order.redirect_url == "https://pay.example.com/api/payments/callback/razorpay/"


def test_reopening_a_phonepe_payment_whose_order_was_lost_uses_a_new_merchant_order_id(
    user, package, slot, fake_phonepe
):
    """A crash between PhonePe opening the order and payfirst recording it: PhonePe refuses the same merchantOrderId
    twice, so the next checkout of the same cart opens the order under a new one instead of failing."""
    factories.add_service(factories.active_cart(user), package, slot)
    opened = fake_phonepe.create_order

    def open_then_die(**kwargs):
        opened(**kwargs)  # PhonePe has the order now; payfirst never hears back
        raise ProcessDied()

    fake_phonepe.create_order = open_then_die
    with pytest.raises(ProcessDied):
        create(user, gateway="phonepe")
    del fake_phonepe.create_order
    lost = Payment.objects.get()
    assert (lost.gateway_order_id, lost.order_attempts) == ("", 1)
    with pytest.raises(GatewayRejected):  # as PhonePe does: it has seen this merchantOrderId
        fake_phonepe.create_order(
            reference=lost.reference, amount=Paise(1), redirect_url="x", customer={}, description=""
        )
    Payment.objects.filter(pk=lost.pk).update(order_requested_at=timezone.now() - timedelta(minutes=10))
    result = create(user, gateway="phonepe")
    assert result.payment.pk == lost.pk and result.payment.order_attempts == 2
    assert fake_phonepe.orders[result.payment.gateway_order_id].reference == f"{lost.reference}-2"
    assert result.payment.status == S.PENDING and result.payment.checkout["redirect_url"]


def test_create_payment_expired_pending_payment_is_expired_not_reused(
    user, address, mixed_cart, variant, slot, fake_razorpay
):
    first = create(user, address).payment
    Payment.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    second = create(user, address)
    first.refresh_from_db()
    assert second.created and first.status == S.EXPIRED
    assert counters(variant, slot) == (5, 2, 1)


def test_create_payment_reopens_an_abandoned_payment_without_gateway_order_but_not_one_in_flight(
    user, address, mixed_cart, fake_razorpay
):
    # A request that died between reserving and recording: no gateway order, reservations held.
    first = create_without_gateway(user, address)
    with pytest.raises(PaymentInProgress):
        create(user, address)
    Payment.objects.filter(pk=first.pk).update(order_requested_at=timezone.now() - timedelta(minutes=5))
    reopened = create(user, address)
    assert not reopened.created and reopened.payment.pk == first.pk and reopened.payment.gateway_order_id


def fulfilled_total(payment: Payment) -> int:
    """What the payment's fulfilments add up to (invariant 1: exactly its amount)."""
    return sum(
        sum(model.objects.filter(payment=payment).values_list("total", flat=True))
        for model in (Order, Booking, Subscription)
    )


def create_without_gateway(user, address) -> Payment:
    """Run only the first (reserve and record) step of create_payment_for_cart, as if the process died after it."""
    cart = Cart.objects.get(user=user, status=CartStatus.ACTIVE)
    priced = price_cart(cart=cart)
    payment, created = checkout._reserve_and_record(
        user=user,
        cart=cart,
        priced=priced,
        gateway="razorpay",
        shipping=services.address_snapshot(address),
        billing=services.address_snapshot(address),
        redirect="",
        contents_hash=checkout._contents_hash(
            priced=priced,
            gateway="razorpay",
            shipping=services.address_snapshot(address),
            billing=services.address_snapshot(address),
            redirect_url="",
        ),
    )
    assert created and not payment.gateway_order_id
    return payment


def test_create_payment_holds_a_promo_use_which_capture_makes_final(user, address, variant, fake_razorpay):
    promo = factories.make_promo(flat=10000)
    cart = factories.active_cart(user)
    factories.add_product(cart, variant, 2)
    Cart.objects.filter(pk=cart.pk).update(promo=promo)
    payment = create(user, address).payment
    assert (payment.subtotal, payment.discount, payment.amount, payment.promo_id) == (99800, 10000, 89800, promo.pk)
    promo.refresh_from_db()
    assert (promo.uses_count, promo.held_count) == (0, 1)
    assert PromoRedemption.objects.get().state == RedemptionState.HELD
    fake_razorpay.settle(payment.gateway_order_id)
    services.sync_payment(payment=payment, source=EventSource.CONFIRM)
    services.sync_payment(payment=payment, source=EventSource.WEBHOOK)
    promo.refresh_from_db()
    assert (promo.uses_count, promo.held_count) == (1, 0)
    redemption = PromoRedemption.objects.get()
    assert (redemption.payment_reference, redemption.state) == (payment.reference, RedemptionState.FINAL)


def test_a_promo_use_goes_back_when_the_payment_ends_unpaid_and_counts_again_on_a_late_capture(
    user, address, variant, fake_razorpay
):
    promo = factories.make_promo(flat=10000)
    promo.max_uses = 1
    promo.save()
    cart = factories.active_cart(user)
    factories.add_product(cart, variant, 2)
    Cart.objects.filter(pk=cart.pk).update(promo=promo)
    payment = create(user, address).payment
    services.cancel_payment(payment_id=payment.pk, actor=user)
    promo.refresh_from_db()
    assert (promo.uses_count, promo.held_count) == (0, 0)
    assert PromoRedemption.objects.get().state == RedemptionState.RELEASED
    fake_razorpay.settle(payment.gateway_order_id)  # the money arrives after all: a use, whatever the limit
    services.sync_payment(payment=payment, source=EventSource.WEBHOOK)
    promo.refresh_from_db()
    assert (promo.uses_count, promo.held_count) == (1, 0)
    assert PromoRedemption.objects.get().state == RedemptionState.FINAL


def test_a_used_up_promo_refuses_the_checkout_and_holds_nothing(user, other_user, address, variant, fake_razorpay):
    promo = factories.make_promo(flat=10000)
    promo.max_uses = 1
    promo.save()
    for buyer in (user, other_user):
        cart = factories.active_cart(buyer)
        factories.add_product(cart, variant, 1)
        Cart.objects.filter(pk=cart.pk).update(promo=promo)
    create(user, address)
    other_address = Address.objects.create(
        user=other_user,
        full_name="Ravi Kumar",
        phone="+919800000000",
        address_line_1="1 MG Road",
        city="Bengaluru",
        state="Karnataka",
        postal_code="560001",
    )
    with pytest.raises(InvalidPromoCode):
        services.create_payment_for_cart(user=other_user, gateway="razorpay", shipping_address_id=other_address.pk)
    promo.refresh_from_db()
    assert (promo.uses_count, promo.held_count) == (0, 1)
    assert Payment.objects.count() == 1 and PromoRedemption.objects.count() == 1
    variant.refresh_from_db()
    assert variant.reserved == 1  # the refused checkout reserved nothing


def test_the_per_customer_limit_counts_the_customers_pending_holds(user, address, variant, fake_razorpay):
    promo = factories.make_promo(flat=10000)
    promo.max_uses_per_user = 1
    promo.save()
    cart = factories.active_cart(user)
    factories.add_product(cart, variant, 1)
    Cart.objects.filter(pk=cart.pk).update(promo=promo)
    first = create(user, address).payment
    # The same cart changed: the new payment supersedes the first, whose use goes back before the new one is held.
    cart.items.update(quantity=2)
    second = create(user, address).payment
    assert second.pk != first.pk
    promo.refresh_from_db()
    assert promo.held_count == 1
    states = dict(PromoRedemption.objects.values_list("payment_reference", "state"))
    assert states == {first.reference: RedemptionState.RELEASED, second.reference: RedemptionState.HELD}


# ---- capture ---------------------------------------------------------------------------------------------------


def test_record_capture_fulfils_once_under_replays(user, address, mixed_cart, variant, slot, fake_razorpay):
    payment = create(user, address).payment
    fake_razorpay.settle(payment.gateway_order_id)
    outcomes = [
        services.sync_payment(payment=payment, source=source)
        for source in (EventSource.CONFIRM, EventSource.WEBHOOK, EventSource.REDIRECT, EventSource.RECONCILE)
    ]
    assert outcomes == [SyncOutcome.CAPTURED] + [SyncOutcome.UNCHANGED] * 3
    payment.refresh_from_db()
    assert payment.status == S.CAPTURED and payment.captured_at and payment.reservation == ReservationState.CONSUMED
    assert payment.gateway_payment_id.startswith("fpay_")
    assert (Order.objects.count(), Booking.objects.count(), Subscription.objects.count()) == (1, 1, 1)
    assert len(fulfilment_refs(payment_ids=[payment.pk])[payment.pk]) == 3
    assert fulfilled_total(payment) == payment.amount == 449700
    assert counters(variant, slot) == (3, 0, 1)  # two sold, nothing held, the slot stays taken by the booking
    mixed_cart.refresh_from_db()
    assert mixed_cart.status == CartStatus.CONVERTED
    assert list(payment.events.values_list("to_status", "source")) == [(S.PENDING, "api"), (S.CAPTURED, "confirm")]


def test_record_capture_with_a_different_amount_flags_and_never_fulfils(
    user, address, mixed_cart, variant, slot, fake_razorpay
):
    payment = create(user, address).payment
    fake_razorpay.settle(payment.gateway_order_id, amount=payment.amount - 1)
    assert services.sync_payment(payment=payment, source=EventSource.WEBHOOK) == SyncOutcome.FLAGGED
    payment.refresh_from_db()
    assert payment.status == S.FLAGGED and payment.gateway_amount == payment.amount - 1
    assert not Order.objects.exists() and not Booking.objects.exists() and not Subscription.objects.exists()
    assert counters(variant, slot) == (5, 0, 0)
    mixed_cart.refresh_from_db()
    assert mixed_cart.status == CartStatus.ACTIVE
    # A later correct-looking report changes nothing: staff decide.
    fake_razorpay.settle(payment.gateway_order_id)
    assert services.sync_payment(payment=payment, source=EventSource.RECONCILE) == SyncOutcome.UNCHANGED
    assert not Order.objects.exists()


def test_record_capture_with_a_different_currency_flags(user, address, mixed_cart, fake_razorpay):
    payment = create(user, address).payment
    fake_razorpay.settle(payment.gateway_order_id, currency="USD")
    assert services.sync_payment(payment=payment, source=EventSource.CONFIRM) == SyncOutcome.FLAGGED
    assert Payment.objects.get(pk=payment.pk).status == S.FLAGGED
    assert not Booking.objects.exists()


def test_record_failure_releases_and_a_failure_after_capture_changes_nothing(
    user, address, mixed_cart, variant, slot, fake_razorpay
):
    payment = create(user, address).payment
    fake_razorpay.settle(payment.gateway_order_id, GatewayStatus.CAPTURED)
    services.sync_payment(payment=payment, source=EventSource.WEBHOOK)
    fake_razorpay.settle(payment.gateway_order_id, GatewayStatus.FAILED)  # an out-of-order "failed"
    assert services.sync_payment(payment=payment, source=EventSource.WEBHOOK) == SyncOutcome.UNCHANGED
    assert Payment.objects.get(pk=payment.pk).status == S.CAPTURED
    assert counters(variant, slot) == (3, 0, 1)


def test_record_failure_of_a_pending_payment_releases_its_reservations(
    user, address, mixed_cart, variant, slot, fake_razorpay
):
    payment = create(user, address).payment
    fake_razorpay.settle(payment.gateway_order_id, GatewayStatus.FAILED, error_code="BAD_REQUEST_ERROR")
    assert services.sync_payment(payment=payment, source=EventSource.WEBHOOK) == SyncOutcome.FAILED
    payment.refresh_from_db()
    assert payment.status == S.FAILED and counters(variant, slot) == (5, 0, 0)
    assert payment.events.last().detail == "BAD_REQUEST_ERROR"


def test_capture_after_failure_takes_the_stock_again_and_fulfils(
    user, address, mixed_cart, variant, slot, fake_razorpay
):
    payment = create(user, address).payment
    fake_razorpay.settle(payment.gateway_order_id, GatewayStatus.FAILED)
    services.sync_payment(payment=payment, source=EventSource.WEBHOOK)
    fake_razorpay.settle(payment.gateway_order_id, GatewayStatus.CAPTURED)  # the customer's second attempt
    assert services.sync_payment(payment=payment, source=EventSource.WEBHOOK) == SyncOutcome.CAPTURED
    payment.refresh_from_db()
    assert payment.status == S.CAPTURED and payment.reservation == ReservationState.CONSUMED
    assert counters(variant, slot) == (3, 0, 1)
    assert Booking.objects.filter(payment=payment).count() == 1 and not Refund.objects.exists()


def test_late_capture_after_expiry_with_the_slot_resold_is_refunded_not_booked(
    user, other_user, address, package, fake_razorpay
):
    last_place = factories.make_slot(package=package, capacity=1)
    factories.add_service(factories.active_cart(user), package, last_place)
    payment = create(user).payment
    Payment.objects.filter(pk=payment.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.expire_stale_payments()["expired"] == 1
    # Someone else takes the freed place and pays for it.
    factories.add_service(factories.active_cart(other_user), package, last_place)
    theirs = create(other_user).payment
    fake_razorpay.settle(theirs.gateway_order_id)
    services.sync_payment(payment=theirs, source=EventSource.CONFIRM)
    # Now the first customer's money arrives.
    fake_razorpay.settle(payment.gateway_order_id)
    assert services.sync_payment(payment=payment, source=EventSource.WEBHOOK) == SyncOutcome.AUTO_REFUND
    payment.refresh_from_db()
    assert payment.status == S.CAPTURED
    assert not Booking.objects.filter(payment=payment).exists()
    refund = Refund.objects.get(payment=payment)
    assert refund.is_automatic and refund.amount == payment.amount and "no longer available" in refund.reason
    last_place.refresh_from_db()
    assert last_place.taken == 1  # never oversold
    # The queued refund goes to the gateway once; the payment ends REFUNDED.
    assert run_queued_tasks(queue_names=["default"]) >= 1
    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == RefundStatus.PROCESSED and payment.status == S.REFUNDED
    assert payment.refunded_amount == payment.amount and fake_razorpay.calls["refund"] == 1
    # Replays change nothing, and never refund twice.
    assert services.sync_payment(payment=payment, source=EventSource.RECONCILE) == SyncOutcome.UNCHANGED
    assert Refund.objects.filter(payment=payment).count() == 1


def test_late_capture_after_cancel_with_stock_still_free_is_fulfilled(user, address, variant, fake_razorpay):
    factories.add_product(factories.active_cart(user), variant, 1)
    payment = create(user, address).payment
    services.cancel_payment(payment_id=payment.pk, actor=user)
    fake_razorpay.settle(payment.gateway_order_id)
    assert services.sync_payment(payment=payment, source=EventSource.WEBHOOK) == SyncOutcome.CAPTURED
    assert Order.objects.filter(payment=payment).count() == 1
    variant.refresh_from_db()
    assert (variant.stock_on_hand, variant.reserved) == (4, 0)


def test_late_capture_of_a_superseded_payment_is_refunded_while_the_newer_one_is_open(
    user, address, variant, plan, fake_razorpay
):
    cart = factories.active_cart(user)
    factories.add_product(cart, variant, 1)
    first = create(user, address).payment
    factories.add_plan(cart, plan)  # the cart changes: a new payment supersedes the first
    second = create(user, address).payment
    first.refresh_from_db()
    assert (first.status, second.status) == (S.SUPERSEDED, S.PENDING)
    # The customer had paid the first one after all; the newer payment is still open, and may be paid too.
    fake_razorpay.settle(first.gateway_order_id)
    assert services.sync_payment(payment=first, source=EventSource.WEBHOOK) == SyncOutcome.AUTO_REFUND
    assert not Order.objects.filter(payment=first).exists()
    assert Refund.objects.get(payment=first).amount == first.amount
    assert Cart.objects.get(pk=cart.pk).status == CartStatus.ACTIVE
    # Paying the newer payment fulfils the cart once.
    fake_razorpay.settle(second.gateway_order_id)
    assert services.sync_payment(payment=second, source=EventSource.CONFIRM) == SyncOutcome.CAPTURED
    assert Order.objects.filter(payment__cart=cart).count() == 1
    variant.refresh_from_db()
    assert (variant.stock_on_hand, variant.reserved) == (4, 0)


def test_late_capture_after_the_cart_was_paid_by_another_payment_is_refunded(user, address, variant, fake_razorpay):
    cart = factories.active_cart(user)
    factories.add_product(cart, variant, 1)
    first = create(user, address).payment
    services.cancel_payment(payment_id=first.pk, actor=user)
    second = create(user, address).payment
    fake_razorpay.settle(second.gateway_order_id)
    assert services.sync_payment(payment=second, source=EventSource.CONFIRM) == SyncOutcome.CAPTURED
    fake_razorpay.settle(first.gateway_order_id)
    assert services.sync_payment(payment=first, source=EventSource.WEBHOOK) == SyncOutcome.AUTO_REFUND
    assert Order.objects.filter(payment__cart=cart).count() == 1
    assert Refund.objects.filter(payment=first, is_automatic=True).count() == 1


# ---- cancel and expiry -----------------------------------------------------------------------------------------


def test_cancel_payment_releases_and_only_while_pending(user, address, mixed_cart, variant, slot, fake_razorpay):
    payment = create(user, address).payment
    services.cancel_payment(payment_id=payment.pk, actor=user)
    payment.refresh_from_db()
    assert payment.status == S.CANCELLED and counters(variant, slot) == (5, 0, 0)
    with pytest.raises(InvalidState):
        services.cancel_payment(payment_id=payment.pk, actor=user)
    assert payment.events.filter(to_status=S.CANCELLED, source="api", actor=user).count() == 1


def test_expire_stale_payments_captures_the_paid_and_expires_the_unpaid(
    user, other_user, make_user, address, variant, package, slot, fake_razorpay
):
    factories.add_product(factories.active_cart(user), variant, 1)
    paid = create(user, address).payment
    factories.add_service(factories.active_cart(other_user), package, slot)
    unpaid = create(other_user).payment
    fresh_user = make_user()
    factories.add_service(factories.active_cart(fresh_user), package, slot)
    fresh = create(fresh_user).payment
    Payment.objects.filter(pk__in=[paid.pk, unpaid.pk]).update(expires_at=timezone.now() - timedelta(seconds=1))
    fake_razorpay.settle(paid.gateway_order_id)  # paid, but no webhook ever came
    outcomes = services.expire_stale_payments()
    assert outcomes == {"captured": 1, "expired": 1}
    assert Payment.objects.get(pk=paid.pk).status == S.CAPTURED
    assert Payment.objects.get(pk=unpaid.pk).status == S.EXPIRED
    assert Payment.objects.get(pk=fresh.pk).status == S.PENDING
    slot.refresh_from_db()
    assert slot.taken == 1  # the expired one's place is back; the fresh one still holds its own
    last_event = Payment.objects.get(pk=unpaid.pk).events.last()
    assert last_event is not None and last_event.source == "expiry"


def test_expire_stale_payments_expires_even_when_the_gateway_is_down(user, package, slot, fake_razorpay):
    factories.add_service(factories.active_cart(user), package, slot)
    payment = create(user).payment
    Payment.objects.filter(pk=payment.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    fake_razorpay.fail_next("fetch_payment", GatewayUnavailable("down"))
    assert services.expire_stale_payments() == {"expired": 1}
    slot.refresh_from_db()
    assert slot.taken == 0


def test_expire_stale_payments_goes_on_past_a_capture_that_cannot_be_recorded(
    user, other_user, package, slot, fake_razorpay, monkeypatch
):
    factories.add_service(factories.active_cart(user), package, slot)
    broken = create(user).payment
    factories.add_service(factories.active_cart(other_user), package, slot)
    unpaid = create(other_user).payment
    Payment.objects.filter(pk__in=[broken.pk, unpaid.pk]).update(expires_at=timezone.now() - timedelta(seconds=1))
    fake_razorpay.settle(broken.gateway_order_id)

    def failing_fulfil(*, payment, lines):
        raise IntegrityError("fulfilment refused")

    monkeypatch.setattr(capture, "fulfil", failing_fulfil)
    assert services.expire_stale_payments() == {"errors": 1, "expired": 1}
    assert Payment.objects.get(pk=broken.pk).status == S.PENDING  # rolled back, not expired: money is there
    assert Payment.objects.get(pk=unpaid.pk).status == S.EXPIRED


def test_expiry_task_runs_from_the_queue(user, package, slot, fake_razorpay):
    from payfirst.payments.tasks import expire_stale_payments_task

    factories.add_service(factories.active_cart(user), package, slot)
    payment = create(user).payment
    Payment.objects.filter(pk=payment.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    expire_stale_payments_task.enqueue()
    assert run_queued_tasks() >= 1
    assert Payment.objects.get(pk=payment.pk).status == S.EXPIRED


# ---- the query budget ------------------------------------------------------------------------------------------


def _cart_of_size(user, n: int) -> None:
    cart = factories.active_cart(user)
    for _ in range(n):
        factories.add_product(cart, factories.make_variant(stock=10), 2)
        package = factories.make_package()
        factories.add_service(cart, package, factories.make_slot(package=package, capacity=3))
        factories.add_plan(cart, factories.make_plan())


def _queries_for(make_user, n: int, fake) -> tuple[int, int]:
    buyer = make_user()
    address = Address.objects.create(
        user=buyer, full_name="B", phone="9876543210", address_line_1="x", city="y", state="z", postal_code="560001"
    )
    _cart_of_size(buyer, n)
    with CaptureQueriesContext(connection) as create_queries:
        payment = create(buyer, address).payment
    fake.settle(payment.gateway_order_id)
    answer = fake.fetch_payment(gateway_order_id=payment.gateway_order_id)
    with CaptureQueriesContext(connection) as capture_queries:
        outcome = services.record_capture(payment=payment, gateway_payment=answer, source=EventSource.WEBHOOK)
    assert outcome == SyncOutcome.CAPTURED
    assert PaymentLine.objects.filter(payment=payment).count() == 3 * n
    return len(create_queries), len(capture_queries)


def test_create_and_capture_run_a_fixed_number_of_queries_whatever_the_cart_holds(make_user, fake_razorpay):
    small = _queries_for(make_user, 1, fake_razorpay)
    large = _queries_for(make_user, 8, fake_razorpay)
    assert small == large
    create_count, capture_count = small
    # Savepoints included (the test runs inside a transaction). Capture: cart + payment locked in one statement,
    # status, event, cart converted, lines read once, variants locked + sold, then fulfil's 6 (order, items,
    # bookings, user lock, running subscriptions, subscriptions), then the GST document's 7 (already issued?, the
    # lines' HSN/SAC and tax class per kind, their rates, the number, the document, its lines), and the
    # confirmation email's outbox row. Create: 19 + the per-customer caps' one read.
    assert create_count <= 20 and capture_count <= 23
