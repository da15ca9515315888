"""Request metrics and the access log: count and latency by route (the URL pattern, never the raw path, so ids do
not multiply the series) and status, and one JSON line per request. Other apps add their own metrics; see
docs/operations.md."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.registry import Collector

REQUESTS = Counter("payfirst_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "payfirst_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
UNMATCHED = "unmatched"  # no URL pattern matched (a 404 from the resolver, or a redirect before resolving)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

access_logger = logging.getLogger("payfirst.access")


def route_of(request: HttpRequest) -> str:
    """The matched URL pattern, e.g. "api/catalog/products/<slug:slug>/"; UNMATCHED when none matched."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNMATCHED
    return match.route or match.view_name or UNMATCHED


def method_of(request: HttpRequest) -> str:
    """The method, or "other" for anything unusual: a client must not be able to invent label values."""
    method = (request.method or "").upper()
    return method if method in _METHODS else "other"


class MetricsMiddleware:
    """Sits inside RequestIdMiddleware, so the access line carries the request id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        route, method = route_of(request), method_of(request)
        LATENCY.labels(method, route).observe(elapsed)
        REQUESTS.labels(method, route, str(response.status_code)).inc()
        access_logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={"route": route, "status": response.status_code, "duration_ms": round(elapsed * 1000, 1)},
        )
        return response


_SCRAPE_TIME: list[Collector] = []


def register_scrape_time_collector(collector: Collector) -> None:
    """Register a collector that computes its samples when /metrics is scraped (e.g. one grouped query), in one-process
    and multi-process mode alike. Call it once, from an AppConfig.ready()."""
    REGISTRY.register(collector)
    _SCRAPE_TIME.append(collector)


def scrape_time_collectors() -> list[Collector]:
    return list(_SCRAPE_TIME)
