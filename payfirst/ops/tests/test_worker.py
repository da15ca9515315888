"""The worker: `run_worker` processes on PostgreSQL share a queue without running a task twice, stop cleanly on
SIGTERM, and racing schedulers enqueue a due periodic task once."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import OperationalError, connection, connections
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from payfirst.ops import worker as worker_module
from payfirst.ops.management.commands.run_worker import run
from payfirst.ops.models import PeriodicTaskState
from payfirst.ops.tasks import enqueue_due_periodic_tasks
from payfirst.ops.tests import sample_tasks
from payfirst.ops.tests.sample_tasks import probe_keys
from payfirst.ops.worker import TaskWorker
from payfirst.testing.workers import task_worker

BASE_DIR = Path(settings.BASE_DIR)
HEARTBEAT = sample_tasks.heartbeat.module_path
WORKER_TIMEOUT = 120


def _worker_env() -> dict[str, str]:
    """The environment of a worker process that works on this test run's PostgreSQL database."""
    db = connection.settings_dict
    credentials = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else "")
    url = f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings", "PAYFIRST_DEMO": "1"}
    env.pop("PAYFIRST_TEST_DB_NAME", None)
    return env


def _start_worker(*options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--no-startup-delay", *options],
        cwd=BASE_DIR,
        env=_worker_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_drain_one_queue_running_each_task_once(probe_table):
    keys = [f"task-{n:03d}" for n in range(50)]
    for key in keys:
        sample_tasks.record_slowly.enqueue(key, 0.1)  # 5 s of work in all, so both workers take a share

    workers = [_start_worker("--batch", "--queue-name", "default", "--no-scheduler", "--interval", "0") for _ in "ab"]
    outputs = [worker.communicate(timeout=WORKER_TIMEOUT)[0] for worker in workers]

    assert [worker.returncode for worker in workers] == [0, 0], outputs
    assert probe_keys() == keys  # the primary key would have failed a second run of any task
    results = list(DBTaskResult.objects.all())
    assert Counter(result.status for result in results) == {TaskResultStatus.SUCCESSFUL: len(keys)}
    assert all(len(result.worker_ids) == 1 for result in results)  # each claimed exactly once
    assert len({result.worker_ids[0] for result in results}) == 2  # and the two processes shared the queue


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_worker_finishes_its_running_task_then_exits_on_sigterm(probe_table):
    slow = sample_tasks.record_slowly.enqueue("in-flight", 1.0)
    worker = _start_worker("--queue-name", "default", "--no-scheduler", "--interval", "0.2")
    lines: queue.Queue[str] = queue.Queue()
    stdout = worker.stdout
    assert stdout is not None

    def forward_lines() -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=forward_lines, daemon=True).start()
    try:
        # The task-started log line (tagged with the task id) says the task is in flight.
        while True:
            line = lines.get(timeout=WORKER_TIMEOUT)
            if f'"task_id": "{slow.id}"' in line and "state=RUNNING" in line:
                break
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=WORKER_TIMEOUT) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    slow.refresh()
    assert slow.status == TaskResultStatus.SUCCESSFUL
    assert probe_keys() == ["in-flight"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_schedulers_enqueue_a_due_periodic_task_once():
    now = timezone.now()
    enqueue_due_periodic_tasks(now=now, names=[HEARTBEAT])  # the first run, and the state row
    DBTaskResult.objects.all().delete()
    PeriodicTaskState.objects.filter(name=HEARTBEAT).update(next_run_at=now)  # due again
    racers = 8
    barrier = threading.Barrier(racers)
    enqueued: list[list[str]] = []

    def scheduler() -> None:
        try:
            barrier.wait(timeout=30)
            enqueued.append(enqueue_due_periodic_tasks(now=now, names=[HEARTBEAT]))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=scheduler) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(enqueued) == [[]] * (racers - 1) + [[HEARTBEAT]]
    assert DBTaskResult.objects.filter(task_path=HEARTBEAT).count() == 1


@pytest.mark.django_db(transaction=True)
def test_worker_run_enqueues_due_periodic_tasks_at_start_and_runs_them():
    worker = task_worker(queue_names=["periodic"])
    run(worker=worker, scheduler_interval=3600)

    heartbeat = DBTaskResult.objects.get(task_path=HEARTBEAT)
    assert heartbeat.status == TaskResultStatus.SUCCESSFUL
    assert heartbeat.worker_ids == ["test-worker"]
    assert PeriodicTaskState.objects.get(name=HEARTBEAT).next_run_at > timezone.now()
    assert not any(thread.name == "periodic-scheduler" for thread in threading.enumerate())  # stopped with the loop


@pytest.mark.django_db(transaction=True)
def test_worker_survives_losing_the_database_and_runs_the_task_once_it_is_back(monkeypatch):
    """A PostgreSQL restart made db_worker's loop raise OperationalError and the worker process exit for good."""
    monkeypatch.setattr(worker_module, "RECONNECT_PAUSE", 0)
    real_claim_next = TaskWorker.claim_next
    failures: list[int] = []

    def claim_next_after_a_restart(self):
        if not failures:
            failures.append(1)
            raise OperationalError("consuming input failed: server closed the connection unexpectedly")
        return real_claim_next(self)

    monkeypatch.setattr(TaskWorker, "claim_next", claim_next_after_a_restart)
    result = sample_tasks.say.enqueue("still here")
    worker = task_worker(batch=False, max_tasks=1)

    worker.run()

    assert failures == [1]
    assert DBTaskResult.objects.get(pk=result.id).status == TaskResultStatus.SUCCESSFUL


def _worker(queue_names: list[str], excluded: list[str] | None = None) -> TaskWorker:
    return task_worker(queue_names=queue_names, excluded_queue_names=excluded or [], worker_id="claimer")


@pytest.mark.django_db
def test_the_claim_takes_the_highest_priority_then_the_earliest_due_then_the_earliest_queued():
    later = sample_tasks.record.using(run_after=timezone.now() - timedelta(seconds=5)).enqueue("due-earlier")
    first = sample_tasks.record.enqueue("queued-first")
    urgent = sample_tasks.record.using(priority=10).enqueue("urgent")
    sample_tasks.record.using(run_after=timezone.now() + timedelta(hours=1)).enqueue("not-yet")
    worker = _worker(["*"])
    claimed = [worker.claim_next() for _ in range(4)]
    assert [str(task.id) if task else None for task in claimed] == [urgent.id, later.id, first.id, None]
    row = DBTaskResult.objects.get(id=urgent.id)
    assert (row.status, row.worker_ids, row.started_at is not None) == (TaskResultStatus.RUNNING, ["claimer"], True)


@pytest.mark.django_db
def test_the_claim_keeps_to_the_workers_queues():
    default = sample_tasks.record.enqueue("default-queue")
    webhooks = sample_tasks.record.using(queue_name="webhooks").enqueue("webhooks-queue")
    claimed = [
        _worker(["*"], excluded=["default"]).claim_next(),
        _worker(["webhooks"]).claim_next(),
        _worker(["default", "webhooks"]).claim_next(),
    ]
    assert [str(task.id) if task else None for task in claimed] == [webhooks.id, None, default.id]


@pytest.mark.postgres
@pytest.mark.django_db
def test_on_postgresql_a_claim_is_one_statement(django_assert_num_queries):
    sample_tasks.record.enqueue("one")
    worker = _worker(["*"])
    with django_assert_num_queries(1):
        assert worker.claim_next() is not None
    with django_assert_num_queries(1):
        assert worker.claim_next() is None
