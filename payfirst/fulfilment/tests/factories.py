"""Catalog rows and captured payments (with their line snapshot) built straight with the ORM for fulfilment tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, time, timedelta

from django.utils import timezone

from payfirst.cart.models import Cart, CartStatus
from payfirst.catalog.models import LineKind, Plan, Product, Service, ServicePackage, Slot, Variant
from payfirst.payments.models import Payment, PaymentLine, ReservationState
from payfirst.payments.states import PaymentStatus

_seq = itertools.count(1)

ADDRESS = {
    "id": 7,
    "full_name": "Asha Rao",
    "phone": "+919876543210",
    "address_line_1": "12 Temple Street",
    "address_line_2": "",
    "city": "Chennai",
    "state": "Tamil Nadu",
    "postal_code": "600004",
    "country": "India",
    "is_default": True,
}


def make_variant(*, price: int = 49_900, stock: int = 50) -> Variant:
    n = next(_seq)
    product = Product.objects.create(name=f"Brass Diya {n}", slug=f"brass-diya-{n}")
    return Variant.objects.create(product=product, sku=f"DIYA-{n}", name="Large", price=price, stock_on_hand=stock)


def make_package(*, price: int = 250_000) -> ServicePackage:
    n = next(_seq)
    service = Service.objects.create(name=f"Satyanarayan Puja {n}")
    return ServicePackage.objects.create(service=service, name="Standard", price=price)


def make_slot(*, package: ServicePackage, on: date | None = None, at: time = time(10, 0)) -> Slot:
    on = on or date.today() + timedelta(days=10 + next(_seq))
    return Slot.objects.create(service_id=package.service_id, date=on, time=at, capacity=5, taken=1)


def make_plan(*, price: int = 99_900, duration_days: int = 30) -> Plan:
    n = next(_seq)
    return Plan.objects.create(code=f"monthly-{n}", name=f"Monthly Plan {n}", price=price, duration_days=duration_days)


@dataclass(frozen=True)
class LineSpec:
    kind: str
    unit_price: int
    quantity: int = 1
    variant: Variant | None = None
    package: ServicePackage | None = None
    slot: Slot | None = None
    plan: Plan | None = None

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity

    @property
    def name(self) -> str:
        if self.variant is not None:
            return f"{self.variant.product.name} — {self.variant.name}"
        if self.package is not None:
            return f"{self.package.service.name} — {self.package.name}"
        assert self.plan is not None
        return self.plan.name


def product(variant: Variant, quantity: int = 1) -> LineSpec:
    return LineSpec(kind=LineKind.PRODUCT, unit_price=variant.price, quantity=quantity, variant=variant)


def service(package: ServicePackage, slot: Slot) -> LineSpec:
    return LineSpec(kind=LineKind.SERVICE, unit_price=package.price, package=package, slot=slot)


def plan_line(plan: Plan) -> LineSpec:
    return LineSpec(kind=LineKind.PLAN, unit_price=plan.price, plan=plan)


def split_discount(line_totals: list[int], discount: int) -> list[int]:
    """The cart's rule: proportional to line_total, integers by largest remainder, ties to the earlier line."""
    subtotal = sum(line_totals)
    if not discount or not subtotal:
        return [0] * len(line_totals)
    shares = [discount * total // subtotal for total in line_totals]
    remainders = [discount * total % subtotal for total in line_totals]
    for index in sorted(range(len(line_totals)), key=lambda i: (-remainders[i], i))[: discount - sum(shares)]:
        shares[index] += 1
    return shares


def make_captured_payment(*, user, lines: list[LineSpec], discount: int = 0, with_address: bool = True) -> Payment:
    """A CAPTURED payment and its line snapshot, as record_capture hands it to fulfil()."""
    n = next(_seq)
    cart = Cart.objects.create(user=user, status=CartStatus.CONVERTED, converted_at=timezone.now())
    subtotal = sum(spec.line_total for spec in lines)
    now = timezone.now()
    payment = Payment.objects.create(
        user=user,
        cart=cart,
        reference=f"pf_test_{n}",
        status=PaymentStatus.CAPTURED,
        amount=subtotal - discount,
        currency="INR",
        gateway="razorpay",
        gateway_order_id=f"order_test{n}",
        gateway_payment_id=f"pay_test{n}",
        subtotal=subtotal,
        discount=discount,
        shipping_address=ADDRESS if with_address else None,
        billing_address=ADDRESS if with_address else None,
        contents_hash=f"{n:064x}",
        items_count=len(lines),
        reservation=ReservationState.CONSUMED,
        expires_at=now + timedelta(minutes=15),
        captured_at=now,
    )
    shares = split_discount([spec.line_total for spec in lines], discount)
    PaymentLine.objects.bulk_create(
        [
            PaymentLine(
                payment=payment,
                kind=spec.kind,
                variant=spec.variant,
                package=spec.package,
                slot=spec.slot,
                plan=spec.plan,
                name=spec.name,
                sku=spec.variant.sku if spec.variant is not None else "",
                selected_date=spec.slot.date if spec.slot is not None else None,
                selected_time=spec.slot.time if spec.slot is not None else None,
                quantity=spec.quantity,
                unit_price=spec.unit_price,
                line_total=spec.line_total,
                discount=share,
                total=spec.line_total - share,
            )
            for spec, share in zip(lines, shares, strict=True)
        ]
    )
    return payment
