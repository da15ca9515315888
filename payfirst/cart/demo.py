"""Demo promo codes for `manage.py seed_demo`. Safe to run again: codes are updated in place, their use counts kept."""

from __future__ import annotations

from payfirst.cart.models import LineKind, PromoCode, PromoKind

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


def seed_demo_promos() -> list[PromoCode]:
    """Create or refresh the demo promo codes; returns them."""
    promos = []
    for spec in DEMO_PROMOS:
        values = {key: value for key, value in spec.items() if key != "code"}
        promo, _ = PromoCode.objects.update_or_create(code=spec["code"], defaults={**values, "is_active": True})
        promos.append(promo)
    return promos
