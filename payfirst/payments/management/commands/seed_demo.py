"""`manage.py seed_demo`: load the demo catalog and admin account (idempotent; DEMO or DEBUG settings only)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from payfirst.cart.demo import seed_demo_promos
from payfirst.catalog.demo import DemoNotAllowed, SeedReport, seed_catalog_demo


class Command(BaseCommand):
    help = "Load demo data: products, puja services with slots for the next 30 days, plans, and the demo admin."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report: SeedReport = seed_catalog_demo()
        except DemoNotAllowed as exc:
            raise CommandError(str(exc)) from None
        # Other apps' demo data is added here, one call each, extending the same report.
        seed_demo_promos(report=report)
        self.stdout.write(self.style.SUCCESS("Demo data loaded:"))
        for line in report.lines:
            self.stdout.write(f"  {line}")
