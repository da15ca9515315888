"""Read queries for the public catalog. Only active objects are ever returned; lists prefetch so their query
count does not depend on how many rows a page holds.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Exists, F, FilteredRelation, OuterRef, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from payfirst.catalog.models import Plan, Product, Service, ServicePackage, Slot, Variant
from payfirst.core.errors import NotFound
from payfirst.core.models import MAX_ID


def _check_id(object_id: int, what: str) -> None:
    if not 0 < object_id <= MAX_ID:
        raise NotFound(f"{what} {object_id} was not found.")


def _active_variants() -> Prefetch:
    return Prefetch(
        "variants", queryset=Variant.objects.filter(is_active=True).order_by("price", "id"), to_attr="active_variants"
    )


def _active_packages() -> Prefetch:
    return Prefetch(
        "packages",
        queryset=ServicePackage.objects.filter(is_active=True).order_by("price", "id"),
        to_attr="active_packages",
    )


def product_list(*, search: str = "") -> QuerySet[Product]:
    """Active products with their active variants (as `active_variants`), matching `search` case-insensitively
    against the product's name and description and its active variants' sku and name."""
    products = Product.objects.filter(is_active=True)
    search = search.strip()
    if search:
        # EXISTS rather than a join: a product matching through several variants appears once, with no DISTINCT.
        variant_match = Variant.objects.filter(product=OuterRef("pk"), is_active=True).filter(
            Q(sku__icontains=search) | Q(name__icontains=search)
        )
        products = products.filter(
            Q(name__icontains=search) | Q(description__icontains=search) | Q(Exists(variant_match))
        )
    return products.order_by("name", "id").prefetch_related(_active_variants())


def product_get(*, product_id: int) -> Product:
    """One active product with its active variants, or NotFound."""
    _check_id(product_id, "Product")
    product = product_list().filter(pk=product_id).first()
    if product is None:
        raise NotFound(f"Product {product_id} was not found.")
    return product


def service_list() -> QuerySet[Service]:
    """Active services with their active packages (as `active_packages`)."""
    return Service.objects.filter(is_active=True).order_by("name", "id").prefetch_related(_active_packages())


def service_get(*, service_id: int) -> Service:
    """One active service, or NotFound."""
    _check_id(service_id, "Service")
    service = Service.objects.filter(pk=service_id, is_active=True).first()
    if service is None:
        raise NotFound(f"Service {service_id} was not found.")
    return service


def upcoming_slots(*, now: datetime | None = None) -> QuerySet[Slot]:
    """Active slots that have not started yet. Slot dates and times are wall-clock times in settings.TIME_ZONE,
    so "now" is taken there too. A slot whose start time has come is no longer offered."""
    local_now = timezone.localtime(now)
    today, time_now = local_now.date(), local_now.time()
    return Slot.objects.filter(is_active=True).filter(Q(date__gt=today) | Q(date=today, time__gt=time_now))


def slot_list(*, service: Service, day: date, now: datetime | None = None) -> QuerySet[Slot]:
    """The service's bookable slots on `day`, in time order: active and not yet started (full ones included,
    with nothing remaining, so a calendar can show them as full)."""
    return upcoming_slots(now=now).filter(service=service, date=day).order_by("time", "id")


@dataclass(frozen=True)
class DayAvailability:
    date: date
    remaining: int  # places left over all the day's bookable slots


def service_availability(
    *, service_id: int, year: int, month: int, now: datetime | None = None
) -> list[DayAvailability]:
    """The days of `year`-`month` on which the active service has bookable slots (active, not yet started), each
    with the places left over its slots (0: every slot is full), in date order. NotFound for no such service.

    One query: the service LEFT JOINed to its bookable slots of the month and grouped by date, so a service with
    no slots that month still answers (one row with no date) and a missing one answers no row at all.
    """
    _check_id(service_id, "Service")
    local_now = timezone.localtime(now)
    today, time_now = local_now.date(), local_now.time()
    first, last = date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    open_slots = FilteredRelation(
        "slots",
        condition=Q(slots__is_active=True, slots__date__gte=max(first, today), slots__date__lte=last)
        & (Q(slots__date__gt=today) | Q(slots__time__gt=time_now)),
    )
    rows = list(
        Service.objects.filter(pk=service_id, is_active=True)
        .annotate(open_slots=open_slots)
        .values("pk", "open_slots__date")
        .annotate(remaining=Sum(F("open_slots__capacity") - F("open_slots__taken")))
        .order_by("open_slots__date")
        .values_list("open_slots__date", "remaining")
    )
    if not rows:
        raise NotFound(f"Service {service_id} was not found.")
    return [DayAvailability(date=day, remaining=remaining) for day, remaining in rows if day is not None]


def plan_list() -> QuerySet[Plan]:
    """Active subscription plans, cheapest first."""
    return Plan.objects.filter(is_active=True).order_by("price", "code")
