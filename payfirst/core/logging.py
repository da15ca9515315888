"""Logging context: a line written during a request carries its request id; a line written by a task run, its task id."""

from __future__ import annotations

import logging
from contextvars import ContextVar

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
            record.request_id = request_id_var.get()
        return True
