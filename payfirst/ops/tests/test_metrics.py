"""The queue-depth gauge: counts by queue and status, from one grouped query at scrape time."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from payfirst.ops.metrics import QueueDepthCollector
from payfirst.ops.tasks import run_queued_tasks
from payfirst.ops.tests import sample_tasks


def queue_depth(body: str) -> dict[tuple[str, str], float]:
    family = next(f for f in text_string_to_metric_families(body) if f.name == "payfirst_task_queue_depth")
    return {(s.labels["queue"], s.labels["status"]): s.value for s in family.samples}


@pytest.mark.django_db
def test_metrics_report_queue_depth_by_queue_and_status(client):
    sample_tasks.say.enqueue("one")
    sample_tasks.say.enqueue("two")
    sample_tasks.explode.using(queue_name="webhooks").enqueue()
    run_queued_tasks(queue_names=["webhooks"])

    depth = queue_depth(client.get("/metrics").content.decode())

    assert depth[("default", "READY")] == 2
    assert depth[("webhooks", "FAILED")] == 1
    assert depth[("webhooks", "READY")] == 0
    assert depth[("periodic", "RUNNING")] == 0  # every configured queue and status is reported, zeros included


@pytest.mark.django_db
def test_queue_depth_is_one_grouped_query_however_many_tasks(django_assert_num_queries):
    for n in range(25):
        sample_tasks.say.using(queue_name=("default", "webhooks", "periodic")[n % 3]).enqueue(f"message {n}")
    with django_assert_num_queries(1):
        (family,) = list(QueueDepthCollector().collect())
    assert sum(sample.value for sample in family.samples) == 25


@pytest.mark.django_db
def test_metrics_in_multiprocess_mode_still_report_queue_depth(client, monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    sample_tasks.say.enqueue("queued")
    depth = queue_depth(client.get("/metrics").content.decode())
    assert depth[("default", "READY")] == 1
