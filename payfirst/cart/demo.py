"""Demo promo codes for `manage.py seed_demo`. Safe to run again: codes are updated in place, their use counts kept."""

from __future__ import annotations

from django.db import transaction

from payfirst.cart.models import PromoCode, PromoKind
from payfirst.catalog.demo import SeedReport
from payfirst.catalog.models import LineKind

DEMO_PROMOS: list[dict[str, object]] = [
    {
        # 10% off anything, at most ₹200.
        "code": "WELCOME10",
        "kind": PromoKind.PERCENT,
        "percent_bp": 1000,
        "flat_amount": 0,
        "max_discount": 20000,
        "min_subtotal": 0,
        "applies_to": "",
        "max_uses_per_user": 1,
    },
    {
        # ₹500 off service lines (pujas, homams, ...) worth ₹2,000 or more.
        "code": "PUJA500",
        "kind": PromoKind.FLAT,
        "percent_bp": 0,
        "flat_amount": 50000,
        "max_discount": None,
        "min_subtotal": 200000,
        "applies_to": LineKind.SERVICE,
        "max_uses_per_user": None,
    },
]


def seed_demo_promos(*, report: SeedReport | None = None) -> list[PromoCode]:
    """Create or refresh the demo promo codes (validity window and limits reset, uses kept); returns them."""
    promos = []
    with transaction.atomic():
        for spec in DEMO_PROMOS:
            values = {key: value for key, value in spec.items() if key != "code"}
            promo, _ = PromoCode.objects.update_or_create(
                code=spec["code"],
                defaults={**values, "is_active": True, "valid_from": None, "valid_until": None, "max_uses": None},
            )
            promos.append(promo)
    if report is not None:
        report.add(
            "promo codes: WELCOME10 (10% off, at most ₹200, once per customer), "
            "PUJA500 (₹500 off service lines of ₹2,000 or more)"
        )
    return promos
