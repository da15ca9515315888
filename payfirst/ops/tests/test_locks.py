"""queue_task: the row django-tasks' enqueue writes, with one INSERT in the caller's transaction."""

from __future__ import annotations

import pytest
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from payfirst.ops.locks import queue_task
from payfirst.ops.tasks import run_queued_tasks
from payfirst.ops.tests import sample_tasks
from payfirst.ops.tests.sample_tasks import probe_keys
from payfirst.testing.workers import task_row_fields


@pytest.mark.django_db
def test_queue_task_writes_the_row_enqueue_writes(django_assert_num_queries):
    low = sample_tasks.record.using(priority=-10, queue_name="periodic")
    with django_assert_num_queries(1):
        queue_task(low, key="by hand")
    written = DBTaskResult.objects.get()
    expected = low.enqueue(key="by hand").db_result  # type: ignore[attr-defined]
    expected.refresh_from_db()
    assert task_row_fields(written) == task_row_fields(expected)
    assert written.args_kwargs == {"args": [], "kwargs": {"key": "by hand"}}
    assert written.pk != expected.pk and written.enqueued_at <= expected.enqueued_at
    assert DBTaskResult.objects.ready().count() == 2  # the worker's own query finds both


@pytest.mark.django_db(transaction=True)
def test_a_task_queued_in_a_rolled_back_transaction_is_gone_and_a_committed_one_runs_once(probe_table):
    with pytest.raises(RuntimeError), transaction.atomic():
        queue_task(sample_tasks.record, key="rolled-back")
        raise RuntimeError("the event failed")
    with transaction.atomic():
        queue_task(sample_tasks.record, key="committed")
    assert run_queued_tasks() == 1
    assert run_queued_tasks() == 0
    assert probe_keys() == ["committed"]
