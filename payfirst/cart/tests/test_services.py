"""Cart services and selectors called directly: the active cart, pricing as the payments code sees it, promo use."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from payfirst.cart import services
from payfirst.cart.demo import seed_demo_promos
from payfirst.cart.errors import InsufficientStock, SlotFull
from payfirst.cart.models import Cart, CartItem, CartStatus, PromoCode, PromoKind, PromoRedemption
from payfirst.cart.pricing import price_cart
from payfirst.cart.selectors import get_active_cart
from payfirst.catalog.models import LineKind, ServicePackage, Slot, Variant
from payfirst.payments.models import Payment, PaymentLine
from payfirst.testing.factories import (
    local_today,
    make_package,
    make_plan,
    make_promo,
    make_service,
    make_slot,
    make_variant,
)

pytestmark = pytest.mark.django_db


def test_get_active_cart_creates_once_and_then_returns_the_same(user):
    first = get_active_cart(user=user)
    assert first.status == CartStatus.ACTIVE and first.cart_id.startswith("CART_")
    assert get_active_cart(user=user).pk == first.pk
    assert Cart.objects.count() == 1


def test_get_active_cart_after_conversion_or_abandonment_is_a_fresh_cart(user):
    converted = get_active_cart(user=user)
    Cart.objects.filter(pk=converted.pk).update(status=CartStatus.CONVERTED)
    abandoned = get_active_cart(user=user)
    assert abandoned.pk != converted.pk
    Cart.objects.filter(pk=abandoned.pk).update(status=CartStatus.ABANDONED)
    fresh = get_active_cart(user=user)
    assert fresh.pk not in (converted.pk, abandoned.pk)
    assert Cart.objects.filter(user=user, status=CartStatus.ACTIVE).get().pk == fresh.pk


def test_get_active_cart_rereads_when_the_create_loses_the_race(user, monkeypatch):
    """A concurrent first request commits its cart between our read and our insert: the constraint refuses ours."""
    winner = Cart.objects.create(user=user)
    real_filter = Cart.objects.filter
    calls = {"n": 0}

    def filter_missing_once(*args, **kwargs):
        calls["n"] += 1
        queryset = real_filter(*args, **kwargs)
        return queryset.none() if calls["n"] == 1 else queryset

    monkeypatch.setattr(Cart.objects, "filter", filter_missing_once)
    assert get_active_cart(user=user).pk == winner.pk
    assert Cart.objects.count() == 1


def test_price_cart_reads_only_and_uses_a_fixed_number_of_queries(user):
    promo = make_promo(code="PER", max_uses_per_user=3)
    cart = get_active_cart(user=user)
    services.add_product(user=user, variant_id=make_variant().pk, quantity=1)
    services.apply_promo(user=user, code="PER")
    cart.refresh_from_db()
    with CaptureQueriesContext(connection) as small:
        price_cart(cart=cart)
    service = make_service()
    for n in range(5):
        services.add_product(user=user, variant_id=make_variant().pk, quantity=1)
        slot = make_slot(service=service, at=f"{9 + n:02d}:00")
        services.add_service(
            user=user, package_id=make_package(service=service).pk, selected_date=slot.date, selected_time=slot.time
        )
        services.add_plan(user=user, plan_code=make_plan().code)
    cart.refresh_from_db()
    with CaptureQueriesContext(connection) as large:
        priced = price_cart(cart=cart)
    assert len(priced.lines) == 16 and priced.promo == promo
    assert len(large) == len(small) == 4  # lines, the own pending payment's holds, promo, the user's uses of it
    assert all(q["sql"].lstrip().upper().startswith("SELECT") for q in large.captured_queries)


def test_price_cart_lines_carry_what_the_payment_snapshot_needs(user):
    variant = make_variant(price=12550, name="Large", product_name="Brass Diya")
    service = make_service(name="Satyanarayan Puja")
    package = make_package(service=service, name="Standard", price=210000)
    slot = make_slot(service=service)
    plan = make_plan(code="monthly", name="Monthly Plan", price=49900)
    services.add_product(user=user, variant_id=variant.pk, quantity=2)
    services.add_service(user=user, package_id=package.pk, selected_date=slot.date, selected_time=slot.time)
    services.add_plan(user=user, plan_code="monthly")
    product, booked, planned = price_cart(cart=get_active_cart(user=user)).lines
    assert (product.kind, product.variant_id, product.sku, product.name, product.quantity, product.line_total) == (
        "product",
        variant.pk,
        variant.sku,
        "Brass Diya — Large",
        2,
        25100,
    )
    assert (booked.kind, booked.package_id, booked.slot_id, booked.selected_date, booked.selected_time) == (
        "service",
        package.pk,
        slot.pk,
        slot.date,
        slot.time,
    )
    assert (planned.kind, planned.plan_code, planned.sku, planned.unit_price, planned.duration_days) == (
        "plan",
        plan.code,
        None,
        49900,
        30,
    )


def test_price_cart_leaves_out_what_ended_without_writing_and_refresh_persists_it(user):
    variant = make_variant()
    promo = make_promo(code="MIN", kind=PromoKind.FLAT, flat_amount=100, min_subtotal=variant.price)
    services.add_product(user=user, variant_id=variant.pk, quantity=1)
    services.apply_promo(user=user, code="MIN")
    Cart.objects.update(promo=promo)
    variant.is_active = False
    variant.save()
    priced = price_cart(cart=get_active_cart(user=user))
    assert priced.lines == () and priced.total == 0 and priced.promo is None
    assert priced.promo_dropped and "needs something in your cart" in priced.promo_notice
    assert CartItem.objects.count() == 1 and Cart.objects.get().promo == promo  # nothing written yet
    refreshed = services.refresh_cart(user=user)
    assert refreshed.lines == () and refreshed.notices
    assert CartItem.objects.count() == 0 and Cart.objects.get().promo is None
    assert Cart.objects.get().notices == list(refreshed.notices)


def test_price_cart_drops_a_slot_that_has_passed_in_india_time(user):
    service = make_service()
    package = make_package(service=service)
    slot = make_slot(service=service)
    services.add_service(user=user, package_id=package.pk, selected_date=slot.date, selected_time=slot.time)
    slot.date = local_today() - timedelta(days=1)
    slot.save()
    priced = price_cart(cart=get_active_cart(user=user))
    assert priced.lines == () and len(priced.dropped_item_ids) == 1 and "has passed" in priced.notices[0]


def test_record_promo_use_counts_once_per_payment_reference(user):
    promo = make_promo(code="COUNT", max_uses_per_user=2)
    services.record_promo_use(promo_id=promo.pk, user_id=user.pk, payment_reference="PAY-A", discount=500)
    services.record_promo_use(promo_id=promo.pk, user_id=user.pk, payment_reference="PAY-A", discount=500)
    promo.refresh_from_db()
    assert promo.uses_count == 1
    assert PromoRedemption.objects.get().discount == 500
    services.record_promo_use(promo_id=promo.pk, user_id=user.pk, payment_reference="PAY-B", discount=300)
    promo.refresh_from_db()
    assert promo.uses_count == 2 and PromoRedemption.objects.count() == 2


def test_recorded_uses_make_the_code_used_up_for_this_user_and_drop_it_from_their_cart(user):
    promo = make_promo(code="TWICE", max_uses_per_user=1)
    services.add_product(user=user, variant_id=make_variant().pk, quantity=1)
    assert services.apply_promo(user=user, code="twice").promo == promo
    services.record_promo_use(promo_id=promo.pk, user_id=user.pk, payment_reference="PAY-1", discount=100)
    priced = services.refresh_cart(user=user)
    assert priced.promo is None and "already used" in priced.promo_notice


def test_record_promo_use_counts_past_max_uses_because_the_money_was_received(user, other_user):
    promo = make_promo(code="LAST", max_uses=1)
    services.record_promo_use(promo_id=promo.pk, user_id=user.pk, payment_reference="PAY-1", discount=100)
    services.record_promo_use(promo_id=promo.pk, user_id=other_user.pk, payment_reference="PAY-2", discount=100)
    promo.refresh_from_db()
    assert promo.uses_count == 2


def test_record_promo_use_for_an_unknown_code_raises_and_records_nothing(user):
    with pytest.raises(PromoCode.DoesNotExist):
        services.record_promo_use(promo_id=987654, user_id=user.pk, payment_reference="PAY-X", discount=1)
    assert not PromoRedemption.objects.exists()


def test_a_replayed_use_inside_the_callers_transaction_leaves_it_usable(user):
    """The payments code calls this inside its capture transaction; a replay must not break that transaction."""
    promo = make_promo(code="REPLAY")
    with transaction.atomic():
        services.record_promo_use(promo_id=promo.pk, user_id=user.pk, payment_reference="PAY-R", discount=100)
        services.record_promo_use(promo_id=promo.pk, user_id=user.pk, payment_reference="PAY-R", discount=100)
        assert PromoRedemption.objects.filter(payment_reference="PAY-R").count() == 1
    promo.refresh_from_db()
    assert promo.uses_count == 1


def test_seed_demo_promos_is_idempotent_and_keeps_use_counts():
    first = seed_demo_promos()
    PromoCode.objects.filter(code="WELCOME10").update(uses_count=7, is_active=False)
    second = seed_demo_promos()
    assert [p.code for p in first] == [p.code for p in second] == ["WELCOME10", "PUJA500"]
    welcome = PromoCode.objects.get(code="WELCOME10")
    assert (welcome.uses_count, welcome.is_active) == (7, True)
    assert PromoCode.objects.count() == 2


def test_seed_demo_command_loads_promo_codes_that_work_on_the_demo_catalog(user):
    call_command("seed_demo", stdout=io.StringIO())
    assert set(PromoCode.objects.values_list("code", flat=True)) >= {"WELCOME10", "PUJA500"}
    basic = PromoCode.objects.get(code="PUJA500")
    assert basic.applies_to == LineKind.SERVICE
    package = ServicePackage.objects.get(service__name="Satyanarayan Puja", name__startswith="Basic")
    slot = Slot.objects.filter(service=package.service, date__gt=local_today()).order_by("date", "time").first()
    assert slot is not None
    services.add_service(user=user, package_id=package.pk, selected_date=slot.date, selected_time=slot.time)
    priced = services.apply_promo(user=user, code="PUJA500")
    assert (priced.subtotal, priced.discount, priced.total) == (210000, 50000, 160000)
    welcome = services.apply_promo(user=user, code="welcome10")
    assert welcome.discount == 20000  # 10% of ₹2,100 is ₹210, capped at ₹200


def _pending_payment(*, user, cart, variant=None, units=0, slot=None, package=None, status="PENDING"):
    """A pending payment of `cart` holding `units` of `variant` and/or a place in `slot`, as checkout leaves it."""
    payment = Payment.objects.create(
        user=user,
        cart=cart,
        status=status,
        gateway="razorpay",
        amount=100,
        subtotal=100,
        contents_hash="test",
        expires_at=timezone.now() + timedelta(minutes=15),
    )
    if variant is not None:
        PaymentLine.objects.create(
            payment=payment,
            kind="product",
            variant=variant,
            name="x",
            quantity=units,
            unit_price=1,
            line_total=units,
            total=units,
        )
        Variant.objects.filter(pk=variant.pk).update(reserved=F("reserved") + units)
    if slot is not None:
        PaymentLine.objects.create(
            payment=payment,
            kind="service",
            package=package,
            slot=slot,
            name="x",
            quantity=1,
            unit_price=1,
            line_total=1,
            total=1,
        )
        Slot.objects.filter(pk=slot.pk).update(taken=F("taken") + 1)
    return payment


def test_what_the_carts_own_pending_payment_holds_counts_as_available_to_it(user, other_user):
    scarce = make_variant(stock=5)
    services.add_product(user=user, variant_id=scarce.pk, quantity=5)
    cart = get_active_cart(user=user)
    _pending_payment(user=user, cart=cart, variant=scarce, units=5)  # the customer left the gateway page
    line = services.refresh_cart(user=user).lines[0]
    assert (line.stock, line.available) == (5, True)
    assert services.update_item_quantity(user=user, item_id=line.item_id, quantity=4).lines[0].quantity == 4
    with pytest.raises(InsufficientStock):
        services.update_item_quantity(user=user, item_id=line.item_id, quantity=6)
    # Someone else's cart gets no such credit: the five are reserved for this user's payment.
    with pytest.raises(InsufficientStock):
        services.add_product(user=other_user, variant_id=scarce.pk, quantity=1)


def test_a_released_payment_gives_no_credit(user):
    scarce = make_variant(stock=5, reserved=5)
    services.add_product(user=user, variant_id=make_variant().pk, quantity=1)
    cart = get_active_cart(user=user)
    _pending_payment(user=user, cart=cart, status="SUPERSEDED")
    with pytest.raises(InsufficientStock):
        services.add_product(user=user, variant_id=scarce.pk, quantity=1)


def test_a_slot_place_held_by_the_own_pending_payment_stays_this_carts(user):
    service = make_service()
    package = make_package(service=service)
    slot = make_slot(service=service, capacity=1)
    services.add_service(user=user, package_id=package.pk, selected_date=slot.date, selected_time=slot.time)
    _pending_payment(user=user, cart=get_active_cart(user=user), slot=slot, package=package)
    line = services.refresh_cart(user=user).lines[0]
    assert (line.slot_remaining, line.available) == (1, True)
    other = make_package(service=service, name="Premium")
    with pytest.raises(SlotFull):  # the one place is already this cart's, for the first package
        services.add_service(user=user, package_id=other.pk, selected_date=slot.date, selected_time=slot.time)
