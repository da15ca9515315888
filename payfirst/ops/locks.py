"""The worker's hand-written hot-path SQL: claiming the next ready task in one statement.

django-tasks-db claims with four round trips and two compiled queries per task (BEGIN, SELECT ... FOR UPDATE SKIP
LOCKED, an UPDATE that marks it RUNNING, COMMIT), and the worker runs its claim after every task and on every idle
poll. On PostgreSQL the same claim is one `UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1)
RETURNING`: the same rows, the same order (its ready index: priority, then run_after, then enqueued_at), the same
fields written, and two workers still never take one task (the sub-select locks the row it picks and skips rows
another claim holds).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.utils import timezone
from django_tasks import TaskResultStatus
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
