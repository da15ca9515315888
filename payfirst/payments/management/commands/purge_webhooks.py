"""`manage.py purge_webhooks [--days N]`: delete webhook deliveries that are done with (processed, duplicate, ignored,
invalid signature) and older than N days (default WEBHOOK_RETENTION_DAYS). Queued, retrying and failed ones stay.
The worker runs the same purge every six hours.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from payfirst.payments.webhooks import purge_webhook_events


class Command(BaseCommand):
    help = "Delete webhook deliveries that are done with and older than the retention period."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"keep this many days (default WEBHOOK_RETENTION_DAYS, now {settings.WEBHOOK_RETENTION_DAYS})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else int(settings.WEBHOOK_RETENTION_DAYS)
        if days < 1:
            raise CommandError("--days must be at least 1.")
        deleted = purge_webhook_events(older_than=timedelta(days=days))
        self.stdout.write(f"Deleted {deleted} webhook deliveries received more than {days} days ago.")
