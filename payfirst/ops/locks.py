"""The task queue's hand-written hot-path SQL: claiming the next ready task in one statement, and writing a task row
in the caller's own statement or transaction.

django-tasks-db claims with four round trips and two compiled queries per task (BEGIN, SELECT ... FOR UPDATE SKIP
LOCKED, an UPDATE that marks it RUNNING, COMMIT), and the worker runs its claim after every task and on every idle
poll. On PostgreSQL the same claim is one `UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1)
RETURNING`: the same rows, the same order (its ready index: priority, then run_after, then enqueued_at), the same
fields written, and two workers still never take one task (the sub-select locks the row it picks and skips rows
another claim holds).

`queue_task` writes the READY row `task.enqueue(...)` writes (test_locks compares them) with one INSERT, inside the
caller's transaction: the task exists exactly when what it is about does, and django-tasks' per-enqueue work (a
second validation of the task, which django-tasks validated when it was made; the ORM's insert; its signal, which
only logs) is skipped on paths that queue a task for every payment.
`TASK_COLUMNS` and `TASK_VALUES` let a larger statement (webhook intake's) write the same row.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks.base import Task
from django_tasks_db.models import DBTaskResult, get_date_max

from payfirst.core.sql import all_columns, placeholders, table


def claim_next_task(
    *, worker_id: str, backend_name: str, queue_names: Sequence[str] | None, excluded_queue_names: Sequence[str]
) -> DBTaskResult | None:
    """Mark the next ready task RUNNING for `worker_id` and return it, or None when none is ready. `queue_names`
    None means every queue. PostgreSQL only (it needs SKIP LOCKED inside an UPDATE's sub-select)."""
    now = timezone.now()
    where = ["r.status = %s", "(r.run_after = %s OR r.run_after <= %s)", "r.backend_name = %s"]
    params: list[object] = [TaskResultStatus.READY, get_date_max(), now, backend_name]
    if queue_names is not None:
        where.append(f"r.queue_name IN ({placeholders(len(queue_names))})")
        params += queue_names
    if excluded_queue_names:
        where.append(f"r.queue_name NOT IN ({placeholders(len(excluded_queue_names))})")
        params += excluded_queue_names
    tasks = table(DBTaskResult)
    claimed = list(
        DBTaskResult.objects.raw(
            f"UPDATE {tasks} t SET status = %s, started_at = %s, worker_ids = t.worker_ids || %s::jsonb "
            f"WHERE t.id = (SELECT r.id FROM {tasks} r WHERE {' AND '.join(where)} "
            f"ORDER BY r.priority DESC, r.run_after ASC, r.enqueued_at ASC LIMIT 1 FOR UPDATE SKIP LOCKED) "
            f"RETURNING {all_columns(DBTaskResult, 't')}",
            [TaskResultStatus.RUNNING, now, json.dumps([worker_id]), *params],
        )
    )
    return claimed[0] if claimed else None


# A READY task row's columns, and its values with `{args_kwargs}` left for the caller's SQL expression of the
# arguments; the %(...)s parameters come from `task_params`. The row `DatabaseBackend.enqueue` writes.
TASK_COLUMNS = (
    "id, status, enqueued_at, args_kwargs, priority, task_path, worker_ids, queue_name, backend_name, run_after, "
    "exception_class_path, traceback"
)
TASK_VALUES = (
    "'READY', %(now)s, {args_kwargs}, %(priority)s, %(task_path)s, '[]', %(queue_name)s, %(backend_name)s, "
    "%(run_after)s, '', ''"
)


def task_params(task: Task[..., Any], *, now: datetime) -> dict[str, Any]:
    """The parameters `TASK_VALUES` names, for a row of `task` queued at `now`."""
    return {
        "now": connection.ops.adapt_datetimefield_value(now),
        "task_path": task.module_path,
        "priority": task.priority,
        "queue_name": task.queue_name,
        "backend_name": task.backend,
        "run_after": connection.ops.adapt_datetimefield_value(get_date_max()),
    }


def insert_task_row(cursor: Any, params: dict[str, Any], **kwargs: Any) -> None:
    """INSERT the READY row for `task(**kwargs)` through `cursor`, with `params` from `task_params` (plus any others
    the caller's statements use). `kwargs` must be JSON values, as django-tasks requires of a task's arguments."""
    cursor.execute(
        f"INSERT INTO {table(DBTaskResult)} ({TASK_COLUMNS}) "
        f"VALUES (%(id)s, {TASK_VALUES.format(args_kwargs='%(args_kwargs)s')})",
        {
            **params,
            "id": DBTaskResult._meta.pk.get_db_prep_value(uuid.uuid4(), connection),
            "args_kwargs": json.dumps({"args": [], "kwargs": kwargs}),
        },
    )


def queue_task(task: Task[..., Any], **kwargs: Any) -> None:
    """Queue `task(**kwargs)` with one INSERT, in the caller's transaction (rolled back with it, seen by the worker
    when it commits)."""
    with connection.cursor() as cursor:
        insert_task_row(cursor, task_params(task, now=timezone.now()), **kwargs)
