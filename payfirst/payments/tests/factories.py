"""Test data for payments: catalog rows, carts with lines, and payments in a given state."""

from __future__ import annotations

import itertools
from datetime import date, time, timedelta

from django.utils import timezone

from payfirst.cart.models import Cart, CartItem, CartStatus, PromoCode
from payfirst.catalog.models import Plan, Product, Service, ServicePackage, Slot, Variant
from payfirst.payments.models import Payment, ReservationState
from payfirst.payments.states import PaymentStatus

_seq = itertools.count(1)


def make_variant(*, price: int = 49900, stock: int = 10, name: str = "Large") -> Variant:
    n = next(_seq)
    product = Product.objects.create(name=f"Brass Diya {n}", slug=f"brass-diya-{n}")
    return Variant.objects.create(product=product, sku=f"DIYA-{n}", name=name, price=price, stock_on_hand=stock)


def make_package(*, price: int = 250000) -> ServicePackage:
    n = next(_seq)
    service = Service.objects.create(name=f"Satyanarayan Puja {n}")
    return ServicePackage.objects.create(service=service, name="Standard", price=price)


def make_slot(*, package: ServicePackage, capacity: int = 1, on: date | None = None, at: time = time(10, 0)) -> Slot:
    day = on or (timezone.localdate() + timedelta(days=10 + next(_seq) % 300))
    return Slot.objects.create(service=package.service, date=day, time=at, capacity=capacity)


def make_plan(*, price: int = 99900, days: int = 30) -> Plan:
    n = next(_seq)
    return Plan.objects.create(code=f"monthly-{n}", name=f"Monthly Plan {n}", price=price, duration_days=days)


def make_promo(*, code: str = "", flat: int = 10000) -> PromoCode:
    return PromoCode.objects.create(code=code or f"SAVE{next(_seq)}", kind="FLAT", flat_amount=flat)


def active_cart(user) -> Cart:
    cart = Cart.objects.filter(user=user, status=CartStatus.ACTIVE).first()
    return cart or Cart.objects.create(user=user)


def add_product(cart: Cart, variant: Variant, quantity: int = 1) -> CartItem:
    return CartItem.objects.create(cart=cart, kind="product", variant=variant, quantity=quantity)


def add_service(cart: Cart, package: ServicePackage, slot: Slot) -> CartItem:
    return CartItem.objects.create(cart=cart, kind="service", package=package, slot=slot, quantity=1)


def add_plan(cart: Cart, plan: Plan) -> CartItem:
    return CartItem.objects.create(cart=cart, kind="plan", plan=plan, quantity=1)


def make_bare_payment(
    *,
    user,
    status: str = PaymentStatus.PENDING,
    amount: int = 49900,
    gateway: str = "razorpay",
    gateway_order_id: str = "",
) -> Payment:
    """A payment row without lines or reservations, for state-table and serializer tests."""
    cart = Cart.objects.create(user=user, status=CartStatus.ABANDONED)
    return Payment.objects.create(
        user=user,
        cart=cart,
        status=status,
        gateway=gateway,
        amount=amount,
        subtotal=amount,
        discount=0,
        contents_hash="x",
        reservation=ReservationState.RELEASED,
        gateway_order_id=gateway_order_id,
        expires_at=timezone.now() + timedelta(minutes=15),
    )
