"""manage.py gst_export --month YYYY-MM [--out DIR]: the month's GST documents as CSV for GSTR-1 preparation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from payfirst.invoices.gstr1 import write_tables


class Command(BaseCommand):
    help = "Write the month's B2B invoices, B2C summaries, credit notes, exempt supplies and document series as CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--month", required=True, help="YYYY-MM, a calendar month in India")
        parser.add_argument("--out", default="", help="the folder to write into (default: gst-YYYY-MM)")

    def handle(self, *args: Any, **options: Any) -> None:
        month = options["month"]
        if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", month):
            raise CommandError(f"--month must be YYYY-MM, e.g. 2026-11; got {month!r}.")
        directory = Path(options["out"] or f"gst-{month}")
        counts = write_tables(month=month, directory=directory)
        summary = ", ".join(f"{name}: {count}" for name, count in counts.items())
        self.stdout.write(f"GSTR-1 tables for {month} written to {directory}/ ({summary})")
