"""Payment gauges for /metrics, computed when it is scraped with one grouped query each: payments by state, webhook
outcomes, refund outcomes and the "paid but not fulfilled" alarm. A database error skips that gauge for the scrape
and counts in payfirst_metrics_collector_errors; the endpoint still answers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence

from django.db import DatabaseError
from prometheus_client import REGISTRY, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from payfirst.core.metrics import register_scrape_time_collector
from payfirst.dashboard import selectors

logger = logging.getLogger("payfirst.dashboard")

COLLECTOR_ERRORS = Counter(
    "payfirst_metrics_collector_errors",
    "Scrapes in which a payment gauge could not be computed because the database failed, by collector",
    ["collector"],
    registry=None,  # registered after the gauges (register_collectors), so a scrape reports its own failures
)


Samples = Iterable[tuple[list[str], int]]


class GroupedGaugeCollector(Collector):
    """A gauge family whose samples come from `read()` (one grouped query) at scrape time."""

    def __init__(self, *, name: str, documentation: str, labels: Sequence[str], read: Callable[[], Samples]) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = list(labels)
        self.read = read

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(self.name, self.documentation, labels=self.labels)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Describing without samples keeps registration (at startup) from touching the database.
        yield self._family()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = self._family()
        try:
            # Materialised before anything is yielded, so a failure never leaves half a family behind.
            samples = list(self.read())
        except DatabaseError:
            logger.warning("Metric %s not collected: the database failed", self.name, exc_info=True)
            COLLECTOR_ERRORS.labels(self.name).inc()
            return
        for labels, value in samples:
            family.add_metric(labels, value)
        yield family


def _payments() -> Samples:
    return [([status], n) for status, n in selectors.payment_counts_by_status().items()]


def _webhook_events() -> Samples:
    counts = selectors.webhook_counts_by_gateway_and_outcome()
    return [([gateway, outcome], n) for (gateway, outcome), n in counts.items()]


def _refunds() -> Samples:
    return [([status], n) for status, n in selectors.refund_counts_by_status().items()]


def _captured_without_fulfilment() -> Samples:
    return [([], selectors.captured_without_fulfilment())]


def build_collectors() -> list[GroupedGaugeCollector]:
    return [
        GroupedGaugeCollector(
            name="payfirst_payments", documentation="Payments by state", labels=["status"], read=_payments
        ),
        GroupedGaugeCollector(
            name="payfirst_webhook_events",
            documentation="Webhook deliveries in the inbox, by gateway and outcome",
            labels=["gateway", "outcome"],
            read=_webhook_events,
        ),
        GroupedGaugeCollector(
            name="payfirst_refunds", documentation="Refunds by status", labels=["status"], read=_refunds
        ),
        GroupedGaugeCollector(
            name="payfirst_captured_without_fulfilment",
            documentation="CAPTURED payments with no order, booking or subscription and no pending or processed "
            "refund; alarm above 0",
            labels=[],
            read=_captured_without_fulfilment,
        ),
    ]


_registered = False


def register_collectors() -> None:
    """Register each collector once per process; a second call (ready() run again, as some test tools do) is a no-op,
    where registering again would make prometheus_client refuse the duplicate names."""
    global _registered
    if _registered:
        return
    for collector in build_collectors():
        register_scrape_time_collector(collector)
        # Every collector's error series exists from the start, reading 0.
        COLLECTOR_ERRORS.labels(collector.name)
    # With PROMETHEUS_MULTIPROC_DIR the counter is read from the processes' files instead, so it is not a
    # scrape-time collector there.
    REGISTRY.register(COLLECTOR_ERRORS)
    _registered = True
