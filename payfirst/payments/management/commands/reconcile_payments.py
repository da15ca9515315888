"""`manage.py reconcile_payments [--limit 500] [--since 3d] [--dry-run]`: ask the gateways about every non-final
payment and pending refund, apply what they say, and print the summary table (docs/operations.md, Reconciliation).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from payfirst.payments.reconcile import RESULTS, parse_since, reconcile_open_payments

T = TypeVar("T")


class Command(BaseCommand):
    help = "Reconcile non-final payments and pending refunds with the gateways; ends with a summary table."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=500, help="at most this many payments (and refunds)")
        parser.add_argument(
            "--since",
            default="3d",
            help='payments created since an ISO date/datetime or a duration back from now ("6h", "3d", "2w"); '
            '"all" for every one (default 3d)',
        )
        parser.add_argument("--dry-run", action="store_true", help="ask the gateways, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        limit = options["limit"]
        if limit < 1:
            raise CommandError("--limit must be at least 1.")
        raw_since = str(options["since"])
        try:
            since = None if raw_since == "all" else parse_since(raw_since)
        except ValueError:
            raise CommandError(f"--since {raw_since!r} is neither an ISO date nor a duration like 6h or 3d.") from None
        if since is not None and since > timezone.now():
            raise CommandError("--since is in the future.")

        def progress(items: Iterable[T], total: int) -> Iterable[T]:
            # The raw stream under Django's OutputWrapper: the wrapper would end each of tqdm's redraws with a newline.
            return tqdm(items, total=total, desc="reconciling", unit="item", file=self.stderr._out)

        outcomes = reconcile_open_payments(limit=limit, since=since, dry_run=options["dry_run"], progress=progress)
        title = "Reconciliation (dry run: nothing changed)" if options["dry_run"] else "Reconciliation"
        width = max(len(name) for name in RESULTS)
        lines = [title, f"{'result'.ljust(width)}  count", f"{'-' * width}  -----"]
        lines += [f"{name.ljust(width)}  {outcomes[name]:>5}" for name in RESULTS]
        self.stdout.write("\n".join(lines))
        if outcomes["alarms"]:
            self.stderr.write(
                self.style.ERROR(f"ALARM: {outcomes['alarms']} captured payment(s) without fulfilment or refund.")
            )
        if outcomes["errors"]:
            self.stderr.write(self.style.WARNING(f"{outcomes['errors']} item(s) could not be checked; run again."))
