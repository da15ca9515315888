"""payfirst's PostgreSQL backend: a persistent connection is health-checked by asking its socket, with no statement
sent, and one the server has ended is replaced before the request's first statement."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connection as default_connection
from django.db import transaction

connection: Any = default_connection  # payfirst.core.postgresql's DatabaseWrapper

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def _new_request() -> None:
    """What Django does between two requests on a persistent connection."""
    connection.close_if_unusable_or_obsolete()


@pytest.fixture
def health_checked():
    connection.ensure_connection()
    enabled = connection.health_check_enabled
    connection.health_check_enabled = True
    yield
    connection.health_check_enabled = enabled


def test_a_healthy_connection_is_kept_and_checked_without_a_statement(health_checked, monkeypatch):
    pid = _backend_pid()
    _new_request()
    raw = connection.connection

    def refuse(*args, **kwargs):
        raise AssertionError("the health check sent a statement")

    monkeypatch.setattr(raw, "cursor", refuse)
    connection.close_if_health_check_failed()
    monkeypatch.undo()
    assert connection.health_check_done
    assert connection.connection is raw
    assert _backend_pid() == pid


def test_a_connection_the_server_ended_is_replaced_before_the_next_statement(health_checked):
    pid = _backend_pid()
    with psycopg.connect(
        **{k: v for k, v in connection.get_connection_params().items() if k in ("dbname", "host", "port", "user")},
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    # The server's goodbye reaches the socket a moment later.
    poller = select.poll()
    poller.register(connection.connection.fileno(), select.POLLIN)
    assert poller.poll(5000), "the server did not end the connection"
    _new_request()
    assert connection.server_hung_up()
    new_pid = _backend_pid()  # no error: the dead connection was closed and a new one opened
    assert new_pid != pid


def test_a_closed_connection_counts_as_hung_up(health_checked):
    connection.connection.close()
    assert connection.server_hung_up()
    connection.close()
    assert _backend_pid() > 0


def test_the_hot_reads_are_prepared_on_the_server_once_per_connection(health_checked):
    from payfirst.core.sql import fetch_prepared

    statement = "SELECT %s::int + 1 AS next_one"
    assert fetch_prepared(statement, [41])[0] == [(42,)]
    assert fetch_prepared(statement, [1])[0] == [(2,)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s", ["%next_one%"])
        prepared = cursor.fetchall()
        cursor.execute("SELECT 1 AS not_prepared")
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%not_prepared%"])
        assert cursor.fetchone()[0] == 0  # any other statement run once stays unprepared
    assert len(prepared) == 1 and "$1" in prepared[0][0]


def test_prepared_statements_can_be_turned_off(health_checked, monkeypatch):
    from payfirst.core.sql import fetch_prepared

    monkeypatch.setitem(connection.settings_dict, "PREPARED_STATEMENTS", False)
    assert fetch_prepared("SELECT %s::int AS turned_off", [7])[0] == [(7,)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%turned_off%"])
        assert cursor.fetchone()[0] == 0


def _prepared(marker: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", [f"%{marker}%"])
        return int(cursor.fetchone()[0])


def test_a_statement_a_connection_repeats_is_bound_on_the_server_and_prepared_at_the_threshold(health_checked):
    threshold = connection.connection.prepare_threshold
    assert threshold == settings.DATABASES["default"]["OPTIONS"]["prepare_threshold"] == 5
    with connection.cursor() as cursor:
        for run in range(threshold):
            cursor.execute("SELECT %s::int AS repeated_often", [run])
            assert cursor.fetchone() == (run,)
        assert _prepared("repeated_often") == 0
        cursor.execute("SELECT %s::int AS repeated_often", [threshold])
    assert _prepared("repeated_often") == 1


def _other_session():
    """A session of its own, as `manage.py migrate` would have."""
    params = connection.get_connection_params()
    return psycopg.connect(
        **{k: v for k, v in params.items() if k in ("dbname", "host", "port", "user")}, autocommit=True
    )


def test_a_prepared_whole_row_read_still_runs_after_a_migration_adds_a_column(health_checked, user):
    from payfirst.payments.locks import lock_cart_then_payment
    from payfirst.testing import factories

    payment = factories.make_bare_payment(user=user)
    for _ in range(connection.connection.prepare_threshold + 1):
        with transaction.atomic():
            assert lock_cart_then_payment(payment_id=payment.pk).pk == payment.pk
    assert _prepared("FOR UPDATE OF c, p") == 1
    with _other_session() as migration:
        migration.execute("ALTER TABLE payments_payment ADD COLUMN added_later integer")
        try:
            with transaction.atomic():  # `SELECT p.*` here: "cached plan must not change result type"
                assert lock_cart_then_payment(payment_id=payment.pk).amount == payment.amount
        finally:
            migration.execute("ALTER TABLE payments_payment DROP COLUMN added_later")


def test_without_prepared_statements_binding_is_django_s_default(tmp_path):
    """PG_PREPARED_STATEMENTS=0 (a pooler that cannot carry them): client-side binding, nothing prepared."""
    read = (
        "from django.conf import settings; o = settings.DATABASES['default'].get('OPTIONS', {}); "
        "print(settings.DATABASES['default']['PREPARED_STATEMENTS'], o.get('server_side_binding'), "
        "o.get('prepare_threshold'))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": "postgres://x@127.0.0.1/y"}
    answers = [
        subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {read}"],
            env={**env, "PG_PREPARED_STATEMENTS": value},
            capture_output=True,
            text=True,
            check=True,
            cwd=settings.BASE_DIR,
        ).stdout.split()
        for value in ("0", "1")
    ]
    assert answers == [["False", "None", "None"], ["True", "True", "5"]]
