"""The task queue's two entry points for the rest of payfirst: `periodic` declares an interval task, and
`run_queued_tasks` runs what is ready in this process (tests, tools); plus the queue's own housekeeping tasks.
The worker is `manage.py run_worker`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task
from django_tasks.base import Task

from payfirst.core.cache import DatabaseCache
from payfirst.ops import services
from payfirst.ops.models import PeriodicTaskState
from payfirst.ops.worker import TaskWorker

logger = logging.getLogger("payfirst.ops")


@dataclass(frozen=True)
class PeriodicTask:
    name: str  # the task's module path: the key of its PeriodicTaskState row
    task: Task
    every: timedelta
    queue_name: str


_PERIODIC: dict[str, PeriodicTask] = {}


def periodic(*, every: timedelta, queue_name: str = "periodic") -> Callable[[Any], Task]:
    """Declare a task the worker enqueues every `every` on `queue_name`. Put it over `@task()` (or a plain function):

        @periodic(every=timedelta(minutes=5))
        @task()
        def expire_stale_payments() -> int: ...

    The task is called with no arguments. The first run is due as soon as a worker sees it; each later run `every`
    after the previous one was enqueued. The task is returned unchanged, so it can also be enqueued by hand.
    """
    if every <= timedelta(0):
        raise ValueError("periodic(every=...) must be a positive interval.")

    def register(target: Any) -> Task:
        declared: Task = target if isinstance(target, Task) else task()(target)
        scheduled = declared.using(queue_name=queue_name)  # validates the queue against the backend now
        name = declared.module_path
        _PERIODIC[name] = PeriodicTask(name=name, task=scheduled, every=every, queue_name=queue_name)
        return declared

    return register


def periodic_tasks() -> dict[str, PeriodicTask]:
    """Every periodic task declared in the modules imported so far, by name."""
    return dict(_PERIODIC)


def enqueue_due_periodic_tasks(*, now: datetime | None = None, names: Iterable[str] | None = None) -> list[str]:
    """Enqueue each declared periodic task whose run is due; returns the names enqueued.

    Safe with any number of schedulers: a run is claimed by a conditional UPDATE that moves `next_run_at` past `now`,
    and the task is enqueued in the same transaction, so exactly one scheduler enqueues each due run and a failed
    enqueue gives the run back.
    """
    now = now or timezone.now()
    wanted = sorted(_PERIODIC if names is None else set(names) & _PERIODIC.keys())
    if not wanted:
        return []
    # A plain read first: a tick with nothing due writes nothing (on SQLite every write takes the database's lock).
    known = dict(PeriodicTaskState.objects.filter(name__in=wanted).values_list("name", "next_run_at"))
    if missing := [name for name in wanted if name not in known]:
        PeriodicTaskState.objects.bulk_create(
            [PeriodicTaskState(name=name, next_run_at=now) for name in missing], ignore_conflicts=True
        )
    enqueued = []
    for name in wanted:
        if name in known and known[name] > now:
            continue
        spec = _PERIODIC[name]
        with transaction.atomic():
            claimed = PeriodicTaskState.objects.filter(name=name, next_run_at__lte=now).update(
                next_run_at=now + spec.every, last_enqueued_at=now
            )
            if not claimed:
                continue
            result = spec.task.enqueue()
            PeriodicTaskState.objects.filter(name=name).update(last_task_result_id=str(result.id))
        logger.info("Enqueued periodic task %s as %s", name, result.id)
        enqueued.append(name)
    return enqueued


def run_queued_tasks(*, queue_names: Iterable[str] | None = None, max_tasks: int = 1000) -> int:
    """Run the tasks that are ready now, in this process, exactly as the worker would; returns how many ran.

    Claims with django-tasks-db's own claim and runs with its own `run_task` (a failing task is recorded FAILED, not
    raised). Tasks that the tasks run enqueue are ready too, so they run in the same call, up to `max_tasks`.
    Inside a test's transaction a task that hits a database error leaves that transaction unusable on PostgreSQL, as
    any query error would; such tests use `django_db(transaction=True)`.
    """
    worker = TaskWorker(
        queue_names=list(queue_names) if queue_names is not None else ["*"],
        interval=0,
        batch=True,
        backend_name=DEFAULT_TASK_BACKEND_ALIAS,
        startup_delay=False,
        max_tasks=max_tasks,
        worker_id=f"inline-{get_random_string(12)}",
        excluded_queue_names=[],
    )
    return worker.drain(max_tasks=max_tasks)


@periodic(every=timedelta(minutes=10))
@task()
def fail_abandoned_tasks_task() -> int:
    return services.fail_abandoned_tasks(older_than=timedelta(minutes=settings.TASK_ABANDONED_AFTER_MINUTES))


@periodic(every=timedelta(hours=6))
@task()
def prune_task_results_task() -> int:
    return services.prune_task_results(
        successful_older_than=timedelta(days=settings.TASK_RESULTS_KEEP_DAYS),
        failed_older_than=timedelta(days=settings.TASK_FAILED_RESULTS_KEEP_DAYS),
    )


@periodic(every=timedelta(minutes=1))
@task()
def prune_cache_task() -> int:
    """The database cache's expired entries (throttle counters, mostly) deleted, and the table culled past
    MAX_ENTRIES: `add` leaves the count to this. Nothing to do with another cache (Redis expires its own keys)."""
    default = caches["default"]
    return default.prune() if isinstance(default, DatabaseCache) else 0
