"""Queue housekeeping: abandoned runs are marked failed, old finished results are pruned."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from payfirst.ops.errors import TaskAbandoned
from payfirst.ops.services import fail_abandoned_tasks, prune_task_results
from payfirst.ops.tasks import fail_abandoned_tasks_task, periodic_tasks, prune_task_results_task, run_queued_tasks
from payfirst.ops.tests import sample_tasks


def running_since(started_at) -> DBTaskResult:
    row = DBTaskResult.objects.get(id=sample_tasks.say.enqueue("work").id)
    row.claim("a-worker-that-died")
    DBTaskResult.objects.filter(id=row.id).update(started_at=started_at)
    return row


@pytest.mark.django_db
def test_fail_abandoned_tasks_fails_only_runs_older_than_the_limit():
    now = timezone.now()
    stale = running_since(now - timedelta(minutes=61))
    recent = running_since(now - timedelta(minutes=5))
    waiting = sample_tasks.say.enqueue("not started")

    assert fail_abandoned_tasks(older_than=timedelta(minutes=60), now=now) == 1

    result = sample_tasks.say.get_result(str(stale.id))
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class is TaskAbandoned
    assert DBTaskResult.objects.get(id=recent.id).status == TaskResultStatus.RUNNING
    assert DBTaskResult.objects.get(id=waiting.id).status == TaskResultStatus.READY
    assert fail_abandoned_tasks(older_than=timedelta(minutes=60), now=now) == 0


@pytest.mark.django_db
def test_prune_task_results_keeps_failures_longer_and_never_touches_unfinished_tasks():
    now = timezone.now()
    sample_tasks.say.enqueue("old success")
    sample_tasks.explode.enqueue()
    assert run_queued_tasks() == 2
    sample_tasks.say.enqueue("still queued")
    DBTaskResult.objects.update(finished_at=now - timedelta(days=20))

    prune = partial(prune_task_results, successful_older_than=timedelta(days=14), now=now)
    assert prune(failed_older_than=timedelta(days=30)) == 1
    assert sorted(DBTaskResult.objects.values_list("status", flat=True)) == ["FAILED", "READY"]
    assert prune(failed_older_than=timedelta(days=10)) == 1
    assert list(DBTaskResult.objects.values_list("status", flat=True)) == ["READY"]


@pytest.mark.django_db
def test_housekeeping_runs_as_periodic_tasks_on_the_periodic_queue(settings):
    declared = periodic_tasks()
    assert declared[fail_abandoned_tasks_task.module_path].task.queue_name == "periodic"
    assert declared[prune_task_results_task.module_path].task.queue_name == "periodic"

    settings.TASK_ABANDONED_AFTER_MINUTES = 30
    running_since(timezone.now() - timedelta(minutes=31))
    result = fail_abandoned_tasks_task.enqueue()
    assert run_queued_tasks() == 1
    result.refresh()
    assert result.return_value == 1
