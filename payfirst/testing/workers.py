"""A task worker for tests that drive its loop or its claim in this process, and a task row's comparable fields."""

from __future__ import annotations

from collections.abc import Sequence

from django_tasks_db.models import DBTaskResult

from payfirst.ops.worker import TaskWorker


def task_row_fields(task: DBTaskResult) -> tuple[object, ...]:
    """Every field of a task row but its id and enqueue time: two rows for the same call compare equal."""
    return (
        task.status,
        task.args_kwargs,
        task.priority,
        task.task_path,
        task.worker_ids,
        task.queue_name,
        task.backend_name,
        task.run_after,
        task.return_value,
        task.exception_class_path,
        task.traceback,
        task.started_at,
        task.finished_at,
    )


def task_worker(
    *,
    queue_names: Sequence[str] = ("*",),
    excluded_queue_names: Sequence[str] = (),
    batch: bool = True,
    max_tasks: int | None = None,
    worker_id: str = "test-worker",
) -> TaskWorker:
    """A worker on the default backend that never sleeps between looks and starts at once."""
    return TaskWorker(
        queue_names=list(queue_names),
        interval=0,
        batch=batch,
        backend_name="default",
        startup_delay=False,
        max_tasks=max_tasks,
        worker_id=worker_id,
        excluded_queue_names=list(excluded_queue_names),
    )
