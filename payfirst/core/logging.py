"""Logging context and format: one JSON object per line, carrying the request id of the request that wrote it, or
the task id while a queued task runs; and the optional Sentry hookup, tagged the same way."""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import sentry_sdk
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter
from sentry_sdk.integrations.logging import ignore_logger
from sentry_sdk.types import Event, Hint

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
task_id_var: ContextVar[str | None] = ContextVar("task_id", default=None)


class RequestIdFilter(logging.Filter):
    """Put `request_id` on every record, or `task_id` instead while a queued task runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        task_id = task_id_var.get()
        if task_id is not None:
            if not hasattr(record, "task_id"):
                record.task_id = task_id
        elif not hasattr(record, "request_id"):
            # Django logs a request's 4xx/5xx after the middleware chain has returned; the request still knows its id.
            request_id = getattr(getattr(record, "request", None), "request_id", None)
            record.request_id = request_id or request_id_var.get()
        return True


class JsonFormatter(_JsonFormatter):
    """python-json-logger's formatter, with the time first, in UTC, as ISO 8601 (not the server's local time)."""

    def add_fields(self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        log_record["time"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")
        super().add_fields(log_record, record, message_dict)


def tag_with_context(event: Event, hint: Hint) -> Event:
    """Sentry's before_send: tag each event with the task id, or the request id, of the code that raised or
    logged it."""
    tags = event.setdefault("tags", {})
    task_id = task_id_var.get()
    if task_id is not None:
        tags["task_id"] = task_id
    elif (request_id := request_id_var.get()) != "-":
        tags["request_id"] = request_id
    return event


def init_sentry(*, dsn: str, environment: str, traces_sample_rate: float) -> None:
    """Report unhandled errors and ERROR log lines (failed tasks included) to Sentry. Sends no personal data."""
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        before_send=tag_with_context,
    )
    # django.request repeats, without the traceback, every 5xx that payfirst.errors already reported, and logs each
    # 503 of /readyz while the database is away: neither should page anyone twice.
    ignore_logger("django.request")
