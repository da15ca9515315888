"""Catalog rows and promo codes for cart tests, made directly with the ORM."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from payfirst.cart.models import PromoCode, PromoKind
from payfirst.catalog.models import Plan, Product, Service, ServicePackage, Slot, Variant

_seq = itertools.count(1)


def make_variant(
    *,
    price: int = 10000,
    stock: int = 50,
    reserved: int = 0,
    name: str = "Large",
    product: Product | None = None,
    product_name: str = "Brass Diya",
    is_active: bool = True,
) -> Variant:
    n = next(_seq)
    if product is None:
        product = Product.objects.create(name=product_name, slug=f"product-{n}")
    return Variant.objects.create(
        product=product,
        sku=f"SKU-{n}",
        name=name,
        price=price,
        stock_on_hand=stock,
        reserved=reserved,
        is_active=is_active,
    )


def make_service(*, name: str = "Satyanarayan Puja") -> Service:
    return Service.objects.create(name=name)


def make_package(*, service: Service | None = None, price: int = 210000, name: str = "Standard") -> ServicePackage:
    return ServicePackage.objects.create(service=service or make_service(), name=name, price=price)


def local_today() -> date:
    return timezone.localdate()


def make_slot(
    *, service: Service, on: date | None = None, at: time | str = time(10, 0), capacity: int = 5, taken: int = 0
) -> Slot:
    at = time.fromisoformat(at) if isinstance(at, str) else at
    return Slot.objects.create(
        service=service, date=on or local_today() + timedelta(days=7), time=at, capacity=capacity, taken=taken
    )


def make_plan(
    *, code: str | None = None, price: int = 49900, duration_days: int = 30, name: str = "Monthly Plan"
) -> Plan:
    return Plan.objects.create(code=code or f"plan-{next(_seq)}", name=name, price=price, duration_days=duration_days)


def make_promo(*, code: str | None = None, **fields: Any) -> PromoCode:
    fields.setdefault("kind", PromoKind.PERCENT)
    if fields["kind"] == PromoKind.PERCENT:
        fields.setdefault("percent_bp", 1000)
    else:
        fields.setdefault("flat_amount", 10000)
    return PromoCode.objects.create(code=code or f"PROMO{next(_seq)}", **fields)


def hours_from_now(hours: float) -> datetime:
    return timezone.now() + timedelta(hours=hours)
