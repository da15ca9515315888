"""The task queue in one process: commit-or-nothing enqueueing, run_queued_tasks, and the periodic scheduler."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from payfirst.ops.models import PeriodicTaskState
from payfirst.ops.tasks import enqueue_due_periodic_tasks, periodic, periodic_tasks, run_queued_tasks
from payfirst.ops.tests import sample_tasks
from payfirst.ops.tests.sample_tasks import probe_keys

HEARTBEAT = sample_tasks.heartbeat.module_path
HOURLY = sample_tasks.hourly_report.module_path


@pytest.mark.django_db(transaction=True)
def test_task_enqueued_in_rolled_back_transaction_never_runs(probe_table):
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            sample_tasks.record.enqueue("rolled-back")
            raise RuntimeError("the request failed")
    with transaction.atomic():
        sample_tasks.record.enqueue("committed")

    assert run_queued_tasks() == 1
    assert probe_keys() == ["committed"]
    assert DBTaskResult.objects.count() == 1


@pytest.mark.django_db
def test_run_queued_tasks_runs_ready_tasks_once_and_records_outcomes(probe_table):
    ok = sample_tasks.record.enqueue("a")
    failing = sample_tasks.explode.enqueue()

    assert run_queued_tasks() == 2
    assert run_queued_tasks() == 0  # nothing left: each task ran once

    ok.refresh()
    failing.refresh()
    assert ok.status == TaskResultStatus.SUCCESSFUL and ok.return_value == "a"
    assert failing.status == TaskResultStatus.FAILED
    assert failing.errors[0].exception_class is ValueError
    assert probe_keys() == ["a"]


@pytest.mark.django_db
def test_run_queued_tasks_filters_by_queue_and_respects_max_tasks(probe_table):
    sample_tasks.record.using(queue_name="webhooks").enqueue("hook")
    for key in ("x", "y", "z"):
        sample_tasks.record.enqueue(key)

    assert run_queued_tasks(queue_names=["webhooks"]) == 1
    assert probe_keys() == ["hook"]
    assert run_queued_tasks(queue_names=["default"], max_tasks=2) == 2
    assert run_queued_tasks() == 1
    assert probe_keys() == ["hook", "x", "y", "z"]


@pytest.mark.django_db
def test_run_queued_tasks_runs_follow_up_tasks_and_skips_deferred_ones(probe_table):
    sample_tasks.chain.enqueue("first")
    sample_tasks.record.using(run_after=timezone.now() + timedelta(minutes=5)).enqueue("later")

    assert run_queued_tasks() == 2
    assert probe_keys() == ["first-next"]
    assert DBTaskResult.objects.ready().count() == 0
    assert DBTaskResult.objects.filter(status=TaskResultStatus.READY).count() == 1


def test_periodic_registers_tasks_and_plain_functions_on_their_queue():
    registered = periodic_tasks()
    assert registered[HEARTBEAT].every == timedelta(minutes=10)
    assert registered[HEARTBEAT].task.queue_name == "periodic"
    assert registered[HOURLY].task.queue_name == "default"
    assert registered[HOURLY].task.func is sample_tasks.hourly_report.func


def test_periodic_refuses_a_non_positive_interval():
    with pytest.raises(ValueError):
        periodic(every=timedelta(0))


@pytest.mark.django_db
def test_scheduler_enqueues_a_due_task_once_per_interval():
    start = timezone.now()

    assert enqueue_due_periodic_tasks(now=start, names=[HEARTBEAT]) == [HEARTBEAT]
    assert enqueue_due_periodic_tasks(now=start + timedelta(minutes=9), names=[HEARTBEAT]) == []
    assert enqueue_due_periodic_tasks(now=start + timedelta(minutes=10), names=[HEARTBEAT]) == [HEARTBEAT]

    queued = DBTaskResult.objects.filter(task_path=HEARTBEAT)
    assert queued.count() == 2
    assert set(queued.values_list("queue_name", flat=True)) == {"periodic"}
    state = PeriodicTaskState.objects.get(name=HEARTBEAT)
    assert state.next_run_at == start + timedelta(minutes=20)
    latest = queued.order_by("-enqueued_at").first()
    assert latest is not None and state.last_task_result_id == str(latest.id)
    assert run_queued_tasks(queue_names=["periodic"]) == 2


@pytest.mark.django_db
def test_scheduler_ignores_names_that_are_not_declared():
    assert enqueue_due_periodic_tasks(names=["payfirst.nowhere.task"]) == []
    assert not PeriodicTaskState.objects.exists()


@pytest.mark.django_db
def test_admin_lists_the_scheduler_state(client, django_user_model):
    staff = django_user_model.objects.create_superuser(email="ops@example.com", password="correct-horse-battery")
    enqueue_due_periodic_tasks(names=[HEARTBEAT])
    client.force_login(staff)
    response = client.get("/admin/ops/periodictaskstate/")
    assert response.status_code == 200
    assert HEARTBEAT in response.content.decode()


@pytest.mark.django_db
def test_scheduler_tick_with_nothing_due_only_reads(django_assert_num_queries):
    start = timezone.now()
    enqueue_due_periodic_tasks(now=start, names=[HEARTBEAT, HOURLY])
    with django_assert_num_queries(1):
        assert enqueue_due_periodic_tasks(now=start + timedelta(minutes=1), names=[HEARTBEAT, HOURLY]) == []
