"""Tasks the ops tests enqueue: each leaves a row in a probe table so a run (or a second run) can be seen."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import connection
from django_tasks import task

from payfirst.ops.tasks import periodic

PROBE_TABLE = "ops_test_probe"
logger = logging.getLogger("payfirst.ops.tests")


def probe_keys() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key FROM {PROBE_TABLE} ORDER BY key")
        return [row[0] for row in cursor.fetchall()]


@task()
def record(key: str) -> str:
    """Insert `key` once; a second run of the same task hits the primary key and fails loudly."""
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {PROBE_TABLE} (key) VALUES (%s)", [key])
    return key


@task()
def record_slowly(key: str, seconds: float) -> str:
    """Like `record`, holding the task for `seconds` of database time so that two workers overlap."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [seconds])
        cursor.execute(f"INSERT INTO {PROBE_TABLE} (key) VALUES (%s)", [key])
    return key


@task()
def chain(key: str) -> str:
    """Enqueue a follow-up task, as payments' tasks do."""
    record.enqueue(f"{key}-next")
    return key


@task()
def explode() -> None:
    raise ValueError("this task always fails")


@task()
def say(message: str) -> None:
    logger.info(message)


@periodic(every=timedelta(minutes=10))
@task()
def heartbeat() -> str:
    return "beat"


@periodic(every=timedelta(hours=1), queue_name="default")
def hourly_report() -> str:
    return "report"
