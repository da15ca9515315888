"""Logging context and format: one JSON object per line, carrying the request id of the request that wrote it, or
the task id while a queued task runs."""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

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
        log_record["time"] = datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds")
        super().add_fields(log_record, record, message_dict)
