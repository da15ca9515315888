"""Pricing arithmetic: property tests over random amounts, carts and promo codes, plus the rounding rules by example."""

from __future__ import annotations

from fractions import Fraction

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payfirst.cart.models import Cart, CartItem, PromoCode, PromoKind
from payfirst.cart.pricing import price_cart, promo_discount, split_discount
from payfirst.catalog.models import LineKind
from payfirst.testing.factories import make_package, make_plan, make_service, make_slot, make_variant

amounts = st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=12)


@given(amounts=amounts, data=st.data())
def test_split_discount_adds_up_exactly_and_never_exceeds_a_line(amounts, data):
    discount = data.draw(st.integers(min_value=0, max_value=sum(amounts)))
    shares = split_discount(discount=discount, amounts=amounts)
    assert sum(shares) == discount
    total = sum(amounts)
    for share, amount in zip(shares, amounts, strict=True):
        assert type(share) is int and 0 <= share <= amount
        assert abs(Fraction(share) - Fraction(discount * amount, total)) < 1  # within a paisa of its exact share


def test_split_discount_gives_ties_to_the_earlier_line():
    assert split_discount(discount=1, amounts=[100, 100]) == [1, 0]
    assert split_discount(discount=2, amounts=[1, 1, 1]) == [1, 1, 0]
    assert split_discount(discount=5, amounts=[1, 3]) == [1, 4]  # 1.25 : 3.75 -> the larger remainder wins
    assert split_discount(discount=0, amounts=[10, 20]) == [0, 0]


def _promo(kind: str, percent_bp: int = 0, flat_amount: int = 0, max_discount: int | None = None) -> PromoCode:
    return PromoCode(code="X", kind=kind, percent_bp=percent_bp, flat_amount=flat_amount, max_discount=max_discount)


@given(
    subtotal=st.integers(min_value=0, max_value=10**10),
    percent_bp=st.integers(min_value=1, max_value=10000),
    cap=st.none() | st.integers(min_value=0, max_value=10**8),
)
def test_percent_discount_rounds_half_up_is_capped_and_never_exceeds_the_subtotal(subtotal, percent_bp, cap):
    discount = promo_discount(
        promo=_promo(PromoKind.PERCENT, percent_bp=percent_bp, max_discount=cap), eligible_subtotal=subtotal
    )
    exact = Fraction(subtotal * percent_bp, 10000)
    half_up = int(exact + Fraction(1, 2))  # floor(x + 1/2) for x >= 0
    expected = min(half_up, cap) if cap is not None else half_up
    assert type(discount) is int and discount == min(expected, subtotal) and 0 <= discount <= subtotal


@given(subtotal=st.integers(min_value=0, max_value=10**10), flat=st.integers(min_value=1, max_value=10**10))
def test_flat_discount_is_the_amount_or_the_whole_subtotal_whichever_is_less(subtotal, flat):
    promo = _promo(PromoKind.FLAT, flat_amount=flat)
    assert promo_discount(promo=promo, eligible_subtotal=subtotal) == min(flat, subtotal)


@pytest.mark.parametrize(
    "subtotal, percent_bp, expected",
    [(999, 1000, 100), (994, 1000, 99), (995, 1000, 100), (1, 5000, 1), (1, 4999, 0), (123456, 1250, 15432)],
)
def test_percent_discount_examples(subtotal, percent_bp, expected):
    promo = _promo(PromoKind.PERCENT, percent_bp=percent_bp)
    assert promo_discount(promo=promo, eligible_subtotal=subtotal) == expected


# --- whole carts in the database ------------------------------------------------------------------------------------

line_specs = st.lists(
    st.one_of(
        st.tuples(st.just("product"), st.integers(1, 5_000_000), st.integers(1, 99)),
        st.tuples(st.just("service"), st.integers(1, 5_000_000), st.just(1)),
        st.tuples(st.just("plan"), st.integers(1, 5_000_000), st.just(1)),
    ),
    max_size=8,
)
promo_specs = st.none() | st.fixed_dictionaries(
    {
        "kind": st.sampled_from([PromoKind.PERCENT, PromoKind.FLAT]),
        "percent_bp": st.integers(1, 10000),
        "flat_amount": st.integers(1, 10**8),
        "max_discount": st.none() | st.integers(0, 10**7),
        "min_subtotal": st.sampled_from([0, 0, 10_000, 1_000_000]),
        "applies_to": st.sampled_from(["", "", LineKind.PRODUCT, LineKind.SERVICE, LineKind.PLAN]),
    }
)


def _build_cart(user, specs, promo_spec) -> Cart:
    cart = Cart.objects.create(user=user)
    service = make_service()
    for n, (kind, price, quantity) in enumerate(specs):
        if kind == "product":
            variant = make_variant(price=price, stock=200)
            CartItem.objects.create(cart=cart, kind=kind, variant=variant, quantity=quantity)
        elif kind == "service":
            slot = make_slot(service=service, at=f"{n:02d}:30")
            CartItem.objects.create(cart=cart, kind=kind, package=make_package(service=service, price=price), slot=slot)
        else:
            CartItem.objects.create(cart=cart, kind=kind, plan=make_plan(price=price))
    if promo_spec is not None:
        spec = dict(promo_spec)
        if spec["kind"] == PromoKind.PERCENT:
            spec["flat_amount"] = 0
        else:
            spec["percent_bp"] = 0
        cart.promo = PromoCode.objects.create(code=f"P{cart.pk}", **spec)
        cart.save()
    return cart


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=line_specs, promo_spec=promo_specs)
def test_priced_carts_always_add_up(user, specs, promo_spec):
    with transaction.atomic():
        cart = _build_cart(user, specs, promo_spec)
        priced = price_cart(cart=cart)
        transaction.set_rollback(True)  # each example starts from an empty catalog
    values = [priced.subtotal, priced.discount, priced.total]
    values += [v for line in priced.lines for v in (line.unit_price, line.line_total, line.discount, line.total)]
    assert all(type(v) is int and v >= 0 for v in values)
    assert len(priced.lines) == len(specs)
    assert priced.subtotal == sum(line.line_total for line in priced.lines)
    assert all(line.line_total == line.unit_price * line.quantity for line in priced.lines)
    assert priced.discount == sum(line.discount for line in priced.lines) <= priced.subtotal
    assert priced.total == priced.subtotal - priced.discount == sum(line.total for line in priced.lines)
    if priced.promo is None:
        assert priced.discount == 0
    else:
        kind = priced.promo.applies_to
        eligible = [line for line in priced.lines if not kind or line.kind == kind]
        eligible_subtotal = sum(line.line_total for line in eligible)
        assert eligible and eligible_subtotal >= priced.promo.min_subtotal
        assert priced.discount == promo_discount(promo=priced.promo, eligible_subtotal=eligible_subtotal)
        assert all(line.discount == 0 for line in priced.lines if line not in eligible)
    if promo_spec is not None and priced.promo is None:
        assert priced.promo_dropped and priced.promo_notice
