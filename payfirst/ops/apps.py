"""The ops app: the task queue's worker and periodic scheduler, and the queue-depth metric."""

from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "payfirst.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from prometheus_client import REGISTRY

        from payfirst.ops.metrics import QueueDepthCollector

        # Registered once per process; the collector queries the queue table at scrape time.
        REGISTRY.register(QueueDepthCollector())
