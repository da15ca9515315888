"""Demo data: a small Indian puja-store catalog, bookable slots from today on, plans and the demo admin account.

Every step is idempotent: rows are found by their natural key (slug, sku, code, name) and only changed when they
differ, stock and capacity are set only when a row is first made (payments move them afterwards), and slots are
created relative to today, so re-running extends the window and duplicates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.utils import timezone

from payfirst.catalog.models import (
    Plan,
    Product,
    Service,
    ServicePackage,
    ServiceType,
    Slot,
    TaxClass,
    TaxRate,
    Variant,
)
from payfirst.core.money import Paise

DEMO_ADMIN_EMAIL = "admin@example.com"
DEMO_ADMIN_PASSWORD = "admin"
SLOT_DAYS = 30


class DemoNotAllowed(Exception):
    """Demo data (and its well-known admin password) is only for DEMO or DEBUG settings."""


def rupees(amount: int) -> int:
    return Paise.from_rupees(amount).value


GST_START = date(2017, 7, 1)
GST_RATE_CHANGE = date(2025, 9, 22)  # the 12 % and 28 % slabs folded into 5 % and 18 % (40 % for a few goods)

# (code, name, where the treatment comes from, [(from, rate in basis points, exempt)]) — demo classification; a
# real shop confirms each against the rate notifications in force.
TAX_CLASSES: list[tuple[str, str, str, list[tuple[date, int, bool]]]] = [
    (
        "brassware",
        "Brass and copper articles (HSN 7418)",
        "12 % before 22 Sep 2025, 5 % after (GST Council, 56th meeting)",
        [(GST_START, 1200, False), (GST_RATE_CHANGE, 500, False)],
    ),
    (
        "steel-utensils",
        "Stainless steel table and kitchen articles (HSN 7323)",
        "12 % before 22 Sep 2025, 5 % after",
        [(GST_START, 1200, False), (GST_RATE_CHANGE, 500, False)],
    ),
    ("incense", "Agarbatti and incense (HSN 3307)", "5 %", [(GST_START, 500, False)]),
    (
        "apparel-1000-2500",
        "Garments priced ₹1,000 to ₹2,500 a piece (HSN 6205)",
        "12 % before 22 Sep 2025, 5 % after",
        [(GST_START, 1200, False), (GST_RATE_CHANGE, 500, False)],
    ),
    ("general-goods", "Other goods at the standard rate", "18 %", [(GST_START, 1800, False)]),
    (
        "religious-ceremony",
        "Conduct of a religious ceremony (SAC 9995)",
        "exempt: Notification 12/2017-Central Tax (Rate), entry 13(a)",
        [(GST_START, 0, True)],
    ),
    (
        "coaching",
        "Commercial coaching and online classes (SAC 9992)",
        "18 %: not an educational institution under Notification 12/2017-Central Tax (Rate)",
        [(GST_START, 1800, False)],
    ),
]

# SKU prefix → (HSN, tax class)
VARIANT_GST: dict[str, tuple[str, str]] = {
    "DIYA-BR": ("7418", "brassware"),
    "THALI-BR": ("7418", "brassware"),
    "THALI-SS": ("7323", "steel-utensils"),
    "AGAR": ("3307", "incense"),
    "KURTA": ("6205", "apparel-1000-2500"),
    "MALA": ("1404", "general-goods"),
}
SERVICE_GST = ("9995", "religious-ceremony")
PLAN_GST = ("9992", "coaching")

# (slug, name, description, [(sku, variant name, price in paise, initial stock)])
PRODUCTS: list[tuple[str, str, str, list[tuple[str, str, int, int]]]] = [
    (
        "brass-diya",
        "Brass Diya",
        "Hand-cast brass oil lamp from Moradabad for daily aarti and Diwali.",
        [
            ("DIYA-BR-S", "Small (3 inch)", rupees(249), 40),
            ("DIYA-BR-M", "Medium (5 inch)", rupees(449), 25),
            ("DIYA-BR-L", "Large (8 inch)", rupees(899), 6),
        ],
    ),
    (
        "puja-thali-set",
        "Puja Thali Set",
        "Complete thali with kalash, diya, bell, kumkum and haldi bowls and an incense holder.",
        [
            ("THALI-SS-7", "Stainless steel, 7 pieces", rupees(699), 30),
            ("THALI-BR-9", "Brass, 9 pieces", rupees(1899), 1),
        ],
    ),
    (
        "sandalwood-incense",
        "Mysore Sandalwood Agarbatti",
        "Hand-rolled sandalwood incense sticks, charcoal-free, about 45 minutes each.",
        [
            ("AGAR-SW-20", "Pack of 20", rupees(99), 200),
            ("AGAR-SW-100", "Pack of 100", rupees(399), 80),
        ],
    ),
    (
        "cotton-kurta",
        "Men's Cotton Kurta",
        "Straight-cut off-white cotton kurta with mandarin collar, for pujas and festivals.",
        [
            ("KURTA-CT-S", "S", rupees(1299), 12),
            ("KURTA-CT-M", "M", rupees(1299), 20),
            ("KURTA-CT-L", "L", rupees(1299), 15),
            ("KURTA-CT-XL", "XL", rupees(1349), 4),
        ],
    ),
    (
        "rudraksha-mala",
        "Rudraksha Mala",
        "108 + 1 five-mukhi rudraksha beads strung on cotton thread, from Nepal.",
        [("MALA-RK-5M", "5 mukhi, 108 beads", rupees(1499), 8)],
    ),
]

# (name, type, description, [(package, price)], [(time, capacity)])
SERVICES: list[tuple[str, str, str, list[tuple[str, int]], list[tuple[time, int]]]] = [
    (
        "Satyanarayan Puja",
        ServiceType.PUJA,
        "Satyanarayan Katha and puja at your home by a Vedic pandit, about two hours.",
        [
            ("Basic (pandit only)", rupees(2100)),
            ("Standard (with samagri)", rupees(3500)),
            ("Premium (two pandits, samagri and prasad)", rupees(5100)),
        ],
        [(time(7, 0), 2), (time(10, 0), 2), (time(16, 0), 1)],
    ),
    (
        "Griha Pravesh Puja",
        ServiceType.PUJA,
        "Housewarming puja with Ganesh puja, Navagraha shanti and havan, about three hours.",
        [("Standard", rupees(5100)), ("With Vastu Shanti", rupees(11000))],
        [(time(6, 30), 1), (time(9, 30), 1)],
    ),
    (
        "Rudrabhishekam",
        ServiceType.PUJA,
        "Abhishekam of the Shiva lingam with Rudram chanting at the temple, performed in your family's name.",
        [("Laghu Rudrabhishekam", rupees(1100)), ("Maha Rudrabhishekam", rupees(7500))],
        [(time(6, 0), 5), (time(12, 0), 1), (time(18, 0), 5)],
    ),
]

# (code, name, price, duration in days)
PLANS: list[tuple[str, str, int, int]] = [
    ("monthly-basic", "Monthly Basic", rupees(299), 30),
    ("quarterly", "Quarterly", rupees(799), 90),
    ("annual", "Annual", rupees(2999), 365),
]


@dataclass
class SeedReport:
    """What a seeding run found and did, as lines for the command to print."""

    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)


def ensure_demo_allowed() -> None:
    if not (getattr(settings, "DEMO", False) or settings.DEBUG):
        raise DemoNotAllowed(
            "Demo data is only loaded with PAYFIRST_DEMO or DEBUG on; it creates a known admin password."
        )


def _upsert(
    model: type[models.Model],
    *,
    lookup: dict[str, Any],
    values: dict[str, Any],
    on_create: dict[str, Any] | None = None,
) -> tuple[Any, bool]:
    """Find by `lookup`; create it with `values` and `on_create`, or bring `values` up to date, saving only
    the fields that differ (so a re-run leaves rows, `updated_at` included, exactly as they were)."""
    obj, created = model._default_manager.get_or_create(**lookup, defaults={**values, **(on_create or {})})
    if not created:
        changed = [name for name, value in values.items() if getattr(obj, name) != value]
        if changed:
            for name in changed:
                setattr(obj, name, values[name])
            obj.save(update_fields=[*changed, "updated_at"])
    return obj, created


def seed_tax_classes(*, report: SeedReport) -> dict[str, TaxClass]:
    classes = {}
    for code, name, note, periods in TAX_CLASSES:
        tax_class, _ = _upsert(TaxClass, lookup={"code": code}, values={"name": name, "note": note})
        for effective_from, rate, exempt in periods:
            _upsert(
                TaxRate,
                lookup={"tax_class": tax_class, "effective_from": effective_from},
                values={"rate": rate, "exempt": exempt},
            )
        classes[code] = tax_class
    report.add(f"tax classes: {', '.join(classes)}")
    return classes


def _gst_values(code: tuple[str, str], classes: dict[str, TaxClass]) -> dict[str, Any]:
    return {"hsn_sac": code[0], "tax_class": classes[code[1]]}


def _variant_gst(sku: str) -> tuple[str, str]:
    return next(code for prefix, code in VARIANT_GST.items() if sku.startswith(prefix))


def seed_products(*, report: SeedReport, classes: dict[str, TaxClass]) -> None:
    made = 0
    for slug, name, description, variants in PRODUCTS:
        product, created = _upsert(
            Product, lookup={"slug": slug}, values={"name": name, "description": description, "is_active": True}
        )
        made += created
        for sku, variant_name, price, stock in variants:
            # Stock is set when the variant is made; after that only sales and the admin move it.
            _, created = _upsert(
                Variant,
                lookup={"sku": sku},
                values={
                    "product": product,
                    "name": variant_name,
                    "price": price,
                    "is_active": True,
                    **_gst_values(_variant_gst(sku), classes),
                },
                on_create={"stock_on_hand": stock},
            )
            made += created
    variant_count = sum(len(v) for *_, v in PRODUCTS)
    report.add(f"products: {len(PRODUCTS)} with {variant_count} variants ({made} new rows)")


def seed_services(*, report: SeedReport, today: date, days: int, classes: dict[str, TaxClass]) -> None:
    services = packages_made = 0
    slots: list[Slot] = []
    for name, service_type, description, packages, times in SERVICES:
        service, created = _upsert(
            Service,
            lookup={"name": name},
            values={"service_type": service_type, "description": description, "is_active": True},
        )
        services += created
        for package_name, price in packages:
            _, created = _upsert(
                ServicePackage,
                lookup={"service": service, "name": package_name},
                values={"price": price, "is_active": True, **_gst_values(SERVICE_GST, classes)},
            )
            packages_made += created
        slots += [
            Slot(service=service, date=today + timedelta(days=offset), time=at, capacity=capacity)
            for offset in range(days)
            for at, capacity in times
        ]
    before = Slot.objects.count()
    # Existing slots (unique per service, date and time) keep their capacity and what is taken.
    Slot.objects.bulk_create(slots, ignore_conflicts=True)
    slots_made = Slot.objects.count() - before
    last = today + timedelta(days=days - 1)
    report.add(
        f"services: {len(SERVICES)} ({services} new), packages: {sum(len(s[3]) for s in SERVICES)} "
        f"({packages_made} new)"
    )
    report.add(f"slots: {today:%Y-%m-%d} to {last:%Y-%m-%d}, {slots_made} new")


def seed_plans(*, report: SeedReport, classes: dict[str, TaxClass]) -> None:
    made = 0
    for code, name, price, duration_days in PLANS:
        _, created = _upsert(
            Plan,
            lookup={"code": code},
            values={
                "name": name,
                "price": price,
                "duration_days": duration_days,
                "is_active": True,
                **_gst_values(PLAN_GST, classes),
            },
        )
        made += created
    report.add(f"plans: {', '.join(code for code, *_ in PLANS)} ({made} new)")


def seed_admin(*, report: SeedReport) -> None:
    """The demo's staff account. An existing account with this email is left exactly as it is."""
    user_model = get_user_model()
    if user_model.objects.filter(email__iexact=DEMO_ADMIN_EMAIL).exists():
        report.add(f"admin: {DEMO_ADMIN_EMAIL} already exists (left unchanged)")
        return
    user_model.objects.create_superuser(DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, full_name="Demo Admin")
    report.add(f"admin: {DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD} created")


def seed_catalog_demo(*, today: date | None = None, days: int = SLOT_DAYS) -> SeedReport:
    """Load the demo catalog and the demo admin in one transaction. Refuses unless DEMO or DEBUG is on."""
    ensure_demo_allowed()
    report = SeedReport()
    with transaction.atomic():
        classes = seed_tax_classes(report=report)
        seed_products(report=report, classes=classes)
        seed_services(report=report, today=today or timezone.localdate(), days=days, classes=classes)
        seed_plans(report=report, classes=classes)
        seed_admin(report=report)
    return report
