"""A task worker for tests that drive its loop or its claim in this process."""

from __future__ import annotations

from collections.abc import Sequence

from payfirst.ops.worker import TaskWorker


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
