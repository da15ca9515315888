"""Fixtures for the ops tests: a probe table the sample tasks write to."""

from __future__ import annotations

import pytest
from django.db import connection

from payfirst.ops.tests.sample_tasks import PROBE_TABLE


@pytest.fixture
def probe_table(django_db_blocker):
    """A table with one primary-key column; created and dropped outside any test transaction."""
    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {PROBE_TABLE} (key varchar(64) PRIMARY KEY)")
    yield PROBE_TABLE
    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {PROBE_TABLE}")
