"""The ops app: the task queue's worker and periodic scheduler, and the queue-depth metric."""

from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "payfirst.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from payfirst.core.metrics import register_scrape_time_collector
        from payfirst.ops.metrics import QueueDepthCollector

        # Registered once per process; the collector queries the queue table at scrape time.
        register_scrape_time_collector(QueueDepthCollector())
