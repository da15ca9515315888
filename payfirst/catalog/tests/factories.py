"""Catalog rows for tests, with sensible defaults and unique names."""

from __future__ import annotations

from datetime import date, time
from itertools import count

from payfirst.catalog.models import Plan, Product, Service, ServicePackage, Slot, Variant

_seq = count(1)


def make_product(*, name: str | None = None, description: str = "", is_active: bool = True) -> Product:
    n = next(_seq)
    return Product.objects.create(
        name=name or f"Product {n}", slug=f"product-{n}", description=description, is_active=is_active
    )


def make_variant(
    *,
    product: Product,
    sku: str | None = None,
    name: str | None = None,
    price: int = 49900,
    stock_on_hand: int = 10,
    reserved: int = 0,
    is_active: bool = True,
) -> Variant:
    n = next(_seq)
    return Variant.objects.create(
        product=product,
        sku=sku or f"SKU-{n}",
        name=name or f"Variant {n}",
        price=price,
        stock_on_hand=stock_on_hand,
        reserved=reserved,
        is_active=is_active,
    )


def make_service(*, name: str | None = None, is_active: bool = True, description: str = "") -> Service:
    return Service.objects.create(name=name or f"Service {next(_seq)}", is_active=is_active, description=description)


def make_package(
    *, service: Service, name: str | None = None, price: int = 210000, is_active: bool = True
) -> ServicePackage:
    return ServicePackage.objects.create(
        service=service, name=name or f"Package {next(_seq)}", price=price, is_active=is_active
    )


def make_slot(
    *, service: Service, day: date, at: time, capacity: int = 3, taken: int = 0, is_active: bool = True
) -> Slot:
    return Slot.objects.create(service=service, date=day, time=at, capacity=capacity, taken=taken, is_active=is_active)


def make_plan(*, code: str, price: int = 29900, duration_days: int = 30, is_active: bool = True) -> Plan:
    return Plan.objects.create(
        code=code, name=code.replace("-", " ").title(), price=price, duration_days=duration_days, is_active=is_active
    )
