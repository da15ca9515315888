"""core/sql.py: the quoted table names and lock clauses the apps' lock modules are built from, per database."""

from __future__ import annotations

from django.db import connection

from payfirst.catalog.models import Variant
from payfirst.core.sql import for_no_key_update, for_update, placeholders, table


def test_the_table_name_is_quoted_for_the_connected_database():
    assert table(Variant) == connection.ops.quote_name(Variant._meta.db_table)
    assert table(Variant) == '"catalog_variant"'


def test_lock_clauses_are_postgresql_row_locks_and_nothing_on_sqlite():
    if connection.vendor == "postgresql":
        assert for_update() == " FOR UPDATE"
        assert for_update(of=("c", "p")) == " FOR UPDATE OF c, p"
        assert for_no_key_update() == " FOR NO KEY UPDATE"
    else:
        assert (for_update(), for_update(of=("c", "p")), for_no_key_update()) == ("", "", "")


def test_placeholders():
    assert placeholders(1) == "%s"
    assert placeholders(3) == "%s, %s, %s"
