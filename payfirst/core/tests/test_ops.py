"""Operations endpoints and logs: /healthz, /readyz, /metrics route labels, and a request id on every log line."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.db import OperationalError
from django.db.migrations.executor import MigrationExecutor
from prometheus_client import REGISTRY

from payfirst.core import health
from payfirst.core.logging import request_id_var, tag_with_context, task_id_var
from payfirst.core.metrics import UNMATCHED


@pytest.fixture
def fresh_readiness(monkeypatch):
    """Each test starts as a new process would: migrations not yet checked."""
    monkeypatch.setattr(health, "_migrations_applied", False)


def requests_count(method: str, route: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "payfirst_http_requests_total", {"method": method, "route": route, "status": status}
    )
    return value or 0.0


def test_healthz_answers_ok_and_echoes_the_request_id(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="probe-1")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["X-Request-ID"] == "probe-1"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_ops_endpoints_refuse_other_methods_in_the_error_shape(client, path):
    response = client.post(path)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json() == {"error": {"code": "method_not_allowed", "message": "Method POST is not allowed here."}}


@pytest.mark.django_db
def test_readyz_is_ready_when_the_database_answers_and_migrations_are_applied(client, fresh_readiness):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


@pytest.mark.django_db
def test_readyz_is_not_ready_while_migrations_are_pending(client, fresh_readiness, monkeypatch):
    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [("a", False), ("b", False)])
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"error": {"code": "not_ready", "message": "2 database migrations are not applied."}}


@pytest.mark.django_db
def test_readyz_checks_migrations_until_they_are_applied_then_only_pings(client, fresh_readiness, monkeypatch):
    assert client.get("/readyz").status_code == 200
    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [("a", False)])
    assert client.get("/readyz").status_code == 200  # applied once means applied for this process


class _UnreachableDatabase:
    def cursor(self):
        raise OperationalError("connection refused")


def test_readyz_is_not_ready_when_the_database_does_not_answer(client, fresh_readiness, monkeypatch):
    monkeypatch.setattr(health, "connection", _UnreachableDatabase())
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"error": {"code": "not_ready", "message": "The database is not reachable."}}


@pytest.mark.django_db
def test_metrics_label_requests_by_url_pattern_not_raw_path(client):
    route = "admin/accounts/user/<path:object_id>/change/"
    before = requests_count("GET", route, "302")
    client.get("/admin/accounts/user/1234/change/")
    client.get("/admin/accounts/user/5678/change/")
    assert requests_count("GET", route, "302") == before + 2

    body = client.get("/metrics").content.decode()
    assert f'route="{route}"' in body
    labels = re.findall(r'route="([^"]*)"', body)  # label values only: sample values may contain any digits
    assert not [label for label in labels if "1234" in label or "5678" in label]


@pytest.mark.django_db
def test_metrics_label_unmatched_paths_and_odd_methods_without_new_series(client):
    before = requests_count("GET", UNMATCHED, "404")
    client.get("/no/such/page/98765")
    assert requests_count("GET", UNMATCHED, "404") == before + 1

    before_other = requests_count("other", "healthz", "405")
    client.generic("BREW", "/healthz")
    assert requests_count("other", "healthz", "405") == before_other + 1
    assert "BREW" not in client.get("/metrics").content.decode()


def test_metrics_record_latency_by_route(client):
    labels = {"method": "GET", "route": "healthz"}
    before = REGISTRY.get_sample_value("payfirst_http_request_duration_seconds_count", labels) or 0.0
    client.get("/healthz")
    assert REGISTRY.get_sample_value("payfirst_http_request_duration_seconds_count", labels) == before + 1


def test_every_log_line_of_a_request_carries_its_request_id(client, settings, json_log):
    settings.ROOT_URLCONF = "payfirst.core.tests.urls_for_ops_tests"
    response = client.get("/chatty/7/", HTTP_X_REQUEST_ID="req-chatty-7")

    assert response["X-Request-ID"] == "req-chatty-7"
    lines = json_log.all()
    assert [line["message"] for line in lines] == ["looking at item 7", "item 7 looks odd", "GET /chatty/7/ 200"]
    assert {line["request_id"] for line in lines} == {"req-chatty-7"}
    access = lines[-1]
    assert (access["logger"], access["route"], access["status"]) == ("payfirst.access", "chatty/<int:item_id>/", 200)
    time = datetime.fromisoformat(lines[0]["time"])
    assert time.utcoffset() == timedelta(0)


def test_an_unexpected_error_is_logged_with_the_request_id_and_answered_plainly(client, settings, json_log):
    settings.ROOT_URLCONF = "payfirst.core.tests.urls_for_ops_tests"
    client.raise_request_exception = False
    response = client.get("/broken/", HTTP_X_REQUEST_ID="req-broken")

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert response["X-Request-ID"] == "req-broken"
    lines = json_log.all()
    error = next(line for line in lines if line["logger"] == "payfirst.errors")
    assert "RuntimeError: an unexpected failure" in error["exc_info"]
    assert {line["request_id"] for line in lines} == {"req-broken"}


def test_django_request_warnings_written_after_the_middleware_still_carry_the_request_id(client, json_log):
    client.get("/api/does-not-exist/", HTTP_X_REQUEST_ID="req-404")
    lines = json_log.all()
    assert {line["logger"] for line in lines} == {"django.request", "payfirst.access"}
    assert {line["request_id"] for line in lines} == {"req-404"}


def test_log_lines_outside_requests_and_tasks_say_so(json_log):
    logging.getLogger("payfirst.tests").warning("between requests")
    (line,) = json_log.all()
    assert line["request_id"] == "-"
    assert "task_id" not in line


@pytest.mark.django_db
def test_task_runs_log_their_task_id_instead_of_a_request_id(json_log):
    from payfirst.ops.tasks import run_queued_tasks
    from payfirst.ops.tests.sample_tasks import say

    result = say.enqueue("sending a receipt")
    assert run_queued_tasks() == 1

    lines = json_log.all()
    said = next(line for line in lines if line["message"] == "sending a receipt")
    assert said["task_id"] == result.id
    assert "request_id" not in said
    assert {line.get("task_id") for line in lines if line["logger"] == "django_tasks"} == {result.id}


def test_sentry_events_are_tagged_with_the_request_or_task_id():
    token = request_id_var.set("req-sentry")
    try:
        assert tag_with_context({}, {})["tags"] == {"request_id": "req-sentry"}
        task_token = task_id_var.set("task-9")
        try:
            assert tag_with_context({"tags": {"a": "b"}}, {})["tags"] == {"a": "b", "task_id": "task-9"}
        finally:
            task_id_var.reset(task_token)
    finally:
        request_id_var.reset(token)
    assert tag_with_context({}, {})["tags"] == {}


@pytest.mark.parametrize(("dsn", "active"), [("", "False"), ("https://public@sentry.invalid/1", "True")])
def test_sentry_is_initialised_only_when_a_dsn_is_set(dsn, active):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "PAYFIRST_DEMO": "1", "SENTRY_DSN": dsn}
    probe = "import django, sentry_sdk; django.setup(); print(sentry_sdk.get_client().is_active())"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == active
