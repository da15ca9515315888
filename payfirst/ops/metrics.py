"""The task-queue depth gauge, computed at scrape time with one grouped query on django-tasks-db's table."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger("payfirst.ops")

_NAME = "payfirst_task_queue_depth"
_HELP = "Tasks in the database queue, by queue and status"


def _configured_queues() -> list[str]:
    return [queue for backend in settings.TASKS.values() for queue in backend.get("QUEUES", ["default"])]


class QueueDepthCollector(Collector):
    """Every configured queue and status is reported, zeros included: a drained queue reads 0 rather than vanishing."""

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Describing without samples keeps registration from touching the database.
        yield GaugeMetricFamily(_NAME, _HELP, labels=["queue", "status"])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(_NAME, _HELP, labels=["queue", "status"])
        counts = {(queue, status): 0 for queue in _configured_queues() for status in TaskResultStatus.values}
        try:
            rows = DBTaskResult.objects.order_by().values_list("queue_name", "status").annotate(n=Count("id"))
            for queue, status, n in rows:
                counts[(queue, status)] = n
        except DatabaseError:
            # A scrape must still answer with the request metrics while the database is away; /readyz reports it.
            logger.warning("Queue depth not collected: the database did not answer", exc_info=True)
            return
        for (queue, status), n in sorted(counts.items()):
            family.add_metric([queue, status], n)
        yield family
