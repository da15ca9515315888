"""Housekeeping of the task queue's table: runs whose worker died, and finished results kept long enough."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from payfirst.ops.errors import TaskAbandoned

_ABANDONED_PATH = f"{TaskAbandoned.__module__}.{TaskAbandoned.__qualname__}"


def fail_abandoned_tasks(*, older_than: timedelta, now: datetime | None = None) -> int:
    """Mark FAILED (TaskAbandoned) every task RUNNING for longer than `older_than`; returns how many.

    django-tasks-db never runs a claimed task again, so a task whose worker died would read RUNNING forever. It is
    not re-queued: it may have done part of its work, and payfirst's own reconciliation is what repairs that. One
    conditional UPDATE: a task that finishes meanwhile is no longer RUNNING and is left alone.
    """
    now = now or timezone.now()
    return DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=now - older_than).update(
        status=TaskResultStatus.FAILED,
        finished_at=now,
        return_value=None,
        exception_class_path=_ABANDONED_PATH,
        traceback=f"{_ABANDONED_PATH}: no result {older_than} after the task started; its worker stopped.\n",
    )


def prune_task_results(
    *, successful_older_than: timedelta, failed_older_than: timedelta, now: datetime | None = None
) -> int:
    """Delete finished task results older than their retention (failures are kept longer); returns how many."""
    now = now or timezone.now()
    deleted, _ = DBTaskResult.objects.filter(
        Q(status=TaskResultStatus.SUCCESSFUL, finished_at__lt=now - successful_older_than)
        | Q(status=TaskResultStatus.FAILED, finished_at__lt=now - failed_older_than)
    ).delete()
    return deleted
