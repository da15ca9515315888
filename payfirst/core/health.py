"""Operations endpoints: /healthz (the process answers), /readyz (database reachable, migrations applied) and
/metrics (Prometheus text, one process or, with PROMETHEUS_MULTIPROC_DIR, every web and worker process)."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from payfirst.core.api import error_body
from payfirst.core.metrics import scrape_time_collectors

logger = logging.getLogger("payfirst.health")

# Migrations cannot become unapplied under a running process, so once they are found applied only the database ping
# is repeated; a probe every few seconds must not re-read every migration file.
_migrations_applied = False

View = Callable[[HttpRequest], HttpResponse]


def _get_only(view: View) -> View:
    """Answer GET and HEAD; anything else is a 405 in the one error shape (CSRF-exempt: these views change nothing,
    and a stray POST should learn the method is wrong, not that a cookie is missing)."""

    def wrapped(request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            response = JsonResponse(
                error_body("method_not_allowed", f"Method {request.method} is not allowed here."), status=405
            )
            response["Allow"] = "GET, HEAD"
            return response
        return view(request)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return csrf_exempt(wrapped)


def _not_ready(message: str) -> JsonResponse:
    return JsonResponse(error_body("not_ready", message), status=503)


def pending_migrations() -> int:
    """How many migrations are not applied to the default database."""
    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


@_get_only
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up. Touches nothing else, so a slow database never gets a healthy process restarted."""
    return JsonResponse({"status": "ok"})


@_get_only
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready for traffic: the database answers and every migration is applied."""
    global _migrations_applied
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        pending = 0 if _migrations_applied else pending_migrations()
    except DatabaseError:
        logger.warning("Not ready: the database did not answer", exc_info=True)
        return _not_ready("The database is not reachable.")
    if pending:
        return _not_ready(f"{pending} database migrations are not applied.")
    _migrations_applied = True
    return JsonResponse({"status": "ready"})


def metrics_allowed(request: HttpRequest) -> bool:
    """Open in the demo (DEBUG or PAYFIRST_DEMO) or with METRICS_PUBLIC; otherwise only to a client address inside
    METRICS_ALLOW_FROM (the socket's address, REMOTE_ADDR) or to `Authorization: Bearer <METRICS_TOKEN>`."""
    if settings.DEBUG or getattr(settings, "DEMO", False) or settings.METRICS_PUBLIC:
        return True
    token = settings.METRICS_TOKEN
    sent = request.headers.get("Authorization", "")
    if token and sent.startswith("Bearer ") and hmac.compare_digest(sent[7:].encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    for cidr in settings.METRICS_ALLOW_FROM:
        try:
            if address in ipaddress.ip_network(cidr, strict=False):
                return True
        except ValueError:
            continue  # refused at start-up by check payfirst.E003; never a reason to let anyone in
    return False


@_get_only
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, for the scrapers metrics_allowed lets in (403 in the error shape for anyone else)."""
    if not metrics_allowed(request):
        return JsonResponse(error_body("forbidden", "Metrics are not served to this client."), status=403)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several processes (gunicorn workers, task workers) write their samples to files in that directory.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        for collector in scrape_time_collectors():
            registry.register(collector)
    else:
        registry = REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
