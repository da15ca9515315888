"""fulfilment/locks.py's statement, run on the connected database (the suite runs on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from payfirst.fulfilment.locks import lock_user_row

pytestmark = pytest.mark.django_db


def test_lock_user_row_is_one_statement_locking_the_row_where_the_database_can(user):
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        lock_user_row(user_id=user.pk)
    [query] = queries.captured_queries
    assert query["sql"].endswith(" FOR NO KEY UPDATE") == (connection.vendor == "postgresql")


def test_lock_user_row_of_a_missing_user_locks_nothing_and_does_not_fail():
    with transaction.atomic():
        lock_user_row(user_id=10**9)
