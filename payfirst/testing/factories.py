"""Rows for tests, made straight with the ORM: one maker per model, keyword-only, with defaults a test overrides
only where it matters. Every app's tests build from here (the catalog, carts and promo codes, payments in a given
state, captured payments with their line snapshot, addresses). Names, slugs and SKUs are numbered so two calls
never collide."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from payfirst.accounts.models import Address, User
from payfirst.cart.models import Cart, CartItem, CartStatus, PromoCode, PromoKind
from payfirst.catalog.models import LineKind, Plan, Product, Service, ServicePackage, Slot, TaxClass, Variant
from payfirst.payments.models import Payment, PaymentLine, ReservationState
from payfirst.payments.states import PaymentStatus

_seq = itertools.count(1)


# Accounts -----------------------------------------------------------------------------------------------------------


def address_payload(**overrides: Any) -> dict[str, Any]:
    """A valid Address request body; override any field."""
    payload: dict[str, Any] = {
        "full_name": "Asha Rao",
        "phone": "+919876543210",
        "address_line_1": "12, 4th Cross, Indiranagar",
        "address_line_2": "Near the metro station",
        "city": "Bengaluru",
        "state": "Karnataka",
        "postal_code": "560038",
    }
    payload.update(overrides)
    return payload


def make_address(*, user: User, **overrides: Any) -> Address:
    """Insert an address directly (no service), so a test controls `is_default` exactly."""
    return Address.objects.create(user=user, **address_payload(**overrides))


# Catalog ------------------------------------------------------------------------------------------------------------


def make_product(*, name: str | None = None, description: str = "", is_active: bool = True) -> Product:
    n = next(_seq)
    return Product.objects.create(
        name=name or f"Product {n}", slug=f"product-{n}", description=description, is_active=is_active
    )


def make_variant(
    *,
    product: Product | None = None,
    product_name: str = "Brass Diya",
    sku: str | None = None,
    name: str = "Large",
    price: int = 49_900,
    stock: int = 10,
    reserved: int = 0,
    is_active: bool = True,
    hsn_sac: str = "",
    tax_class: TaxClass | None = None,
) -> Variant:
    """A variant; without `product`, of a new product called `product_name`."""
    n = next(_seq)
    return Variant.objects.create(
        product=product or Product.objects.create(name=product_name, slug=f"product-{n}"),
        sku=sku or f"SKU-{n}",
        name=name,
        price=price,
        stock_on_hand=stock,
        reserved=reserved,
        is_active=is_active,
        hsn_sac=hsn_sac,
        tax_class=tax_class,
    )


def make_service(*, name: str = "Satyanarayan Puja", description: str = "", is_active: bool = True) -> Service:
    return Service.objects.create(name=name, description=description, is_active=is_active)


def make_package(
    *,
    service: Service | None = None,
    name: str = "Standard",
    price: int = 250_000,
    is_active: bool = True,
    hsn_sac: str = "",
    tax_class: TaxClass | None = None,
) -> ServicePackage:
    """A package; without `service`, of a new service."""
    return ServicePackage.objects.create(
        service=service or make_service(),
        name=name,
        price=price,
        is_active=is_active,
        hsn_sac=hsn_sac,
        tax_class=tax_class,
    )


def make_slot(
    *,
    service: Service | None = None,
    package: ServicePackage | None = None,
    on: date | None = None,
    at: time | str = time(10, 0),
    capacity: int = 5,
    taken: int = 0,
    is_active: bool = True,
) -> Slot:
    """A slot of `service` (or of `package`'s service) at `at`, 10:00 by default; on `on`, by default a week from
    today (IST) or the first day after it that the service has no slot at that time yet."""
    if service is None:
        assert package is not None, "make_slot needs a service or a package"
        service = package.service
    at = time.fromisoformat(at) if isinstance(at, str) else at
    if on is None:
        on = timezone.localdate() + timedelta(days=7)
        while Slot.objects.filter(service=service, date=on, time=at).exists():
            on += timedelta(days=1)
    return Slot.objects.create(
        service=service,
        date=on,
        time=at,
        capacity=capacity,
        taken=taken,
        is_active=is_active,
    )


def make_plan(
    *,
    code: str | None = None,
    name: str = "Monthly Plan",
    price: int = 99_900,
    duration_days: int = 30,
    is_active: bool = True,
    hsn_sac: str = "",
    tax_class: TaxClass | None = None,
) -> Plan:
    return Plan.objects.create(
        code=code or f"plan-{next(_seq)}",
        name=name,
        price=price,
        duration_days=duration_days,
        is_active=is_active,
        hsn_sac=hsn_sac,
        tax_class=tax_class,
    )


# Carts and promo codes ----------------------------------------------------------------------------------------------


def make_promo(*, code: str | None = None, flat: int | None = None, **fields: Any) -> PromoCode:
    """A promo code: 10% off by default; `flat=` paise off instead; any other PromoCode field by name."""
    if flat is not None:
        fields.update(kind=PromoKind.FLAT, flat_amount=flat)
    fields.setdefault("kind", PromoKind.PERCENT)
    if fields["kind"] == PromoKind.PERCENT:
        fields.setdefault("percent_bp", 1000)
    else:
        fields.setdefault("flat_amount", 10000)
    return PromoCode.objects.create(code=code or f"PROMO{next(_seq)}", **fields)


def active_cart(user: User) -> Cart:
    cart = Cart.objects.filter(user=user, status=CartStatus.ACTIVE).first()
    return cart or Cart.objects.create(user=user)


def add_product(cart: Cart, variant: Variant, quantity: int = 1) -> CartItem:
    return CartItem.objects.create(cart=cart, kind=LineKind.PRODUCT, variant=variant, quantity=quantity)


def add_service(cart: Cart, package: ServicePackage, slot: Slot) -> CartItem:
    return CartItem.objects.create(cart=cart, kind=LineKind.SERVICE, package=package, slot=slot, quantity=1)


def add_plan(cart: Cart, plan: Plan) -> CartItem:
    return CartItem.objects.create(cart=cart, kind=LineKind.PLAN, plan=plan, quantity=1)


# Payments -----------------------------------------------------------------------------------------------------------

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


def make_bare_payment(
    *,
    user: User,
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


@dataclass(frozen=True)
class LineSpec:
    """One line of a captured payment's snapshot: make it with product_line, service_line or plan_line."""

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


def product_line(variant: Variant, quantity: int = 1) -> LineSpec:
    return LineSpec(kind=LineKind.PRODUCT, unit_price=variant.price, quantity=quantity, variant=variant)


def service_line(package: ServicePackage, slot: Slot) -> LineSpec:
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


def make_captured_payment(
    *, user: User, lines: list[LineSpec], discount: int = 0, with_address: bool = True
) -> Payment:
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


# Times --------------------------------------------------------------------------------------------------------------


def local_today() -> date:
    """Today in India (TIME_ZONE), the calendar slots are given in."""
    return timezone.localdate()


def hours_from_now(hours: float) -> datetime:
    return timezone.now() + timedelta(hours=hours)
