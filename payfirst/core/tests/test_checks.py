"""The system check that refuses an SQLite too old for UPDATE ... FROM."""

from __future__ import annotations

from django.core.management import call_command

from payfirst.core.checks import sqlite_supports_update_from, sqlite_too_old


def test_an_sqlite_older_than_3_33_is_refused_with_a_clear_message():
    error = sqlite_too_old(alias="default", version=(3, 31, 1))
    assert error is not None and error.id == "payfirst.E010"
    assert error.msg.startswith("SQLite 3.31.1 is too old: payfirst needs SQLite 3.33 or newer")


def test_sqlite_3_33_and_newer_pass():
    assert sqlite_too_old(alias="default", version=(3, 33, 0)) is None
    assert sqlite_too_old(alias="default", version=(3, 46, 1)) is None


def test_the_configured_database_passes_the_check(db):
    assert sqlite_supports_update_from(databases=["default"]) == []
    call_command("check", "--database", "default")
