"""The small pieces every app's hand-written hot-path SQL (its `locks.py`) is built from: a quoted table name and
the row-lock clause the connected database supports. Nothing here knows any app's tables."""

from __future__ import annotations

from django.db import connection
from django.db.models import Model


def table(model: type[Model]) -> str:
    """The model's table name, quoted for the connected database."""
    return connection.ops.quote_name(model._meta.db_table)


def for_update(*, of: tuple[str, ...] = ()) -> str:
    """` FOR UPDATE` (` FOR UPDATE OF a, b` when `of` names aliases), or "" where the database has no row locks.

    SQLite has none (it serialises writers), so there the statement is a plain read. PostgreSQL locks the rows of
    an OF list in the order it names them.
    """
    if of:
        return f" FOR UPDATE OF {', '.join(of)}" if connection.features.has_select_for_update_of else ""
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def for_no_key_update() -> str:
    """` FOR NO KEY UPDATE` (rows that merely reference the locked one are not held up), or "" on SQLite."""
    return " FOR NO KEY UPDATE" if connection.features.has_select_for_no_key_update else ""


def placeholders(count: int) -> str:
    """`%s, %s, …` for an IN list of `count` parameters."""
    return ", ".join(["%s"] * count)


def can_write_in_with() -> bool:
    """Whether a WITH clause may hold INSERT/UPDATE … RETURNING (PostgreSQL), so that several writes that belong
    together travel as one statement. SQLite has no such CTEs: there the same writes are separate statements in one
    transaction (in-process, so no round trip is saved by joining them)."""
    return connection.vendor == "postgresql"
