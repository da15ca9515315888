"""The small pieces every app's hand-written hot-path SQL (its `locks.py`) is built from: a quoted table name and
the row-lock clause the connected database supports. Nothing here knows any app's tables."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, Generic, TypeVar, cast

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import ForeignKey, Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init


def table(model: type[Model]) -> str:
    """The model's table name, quoted for the connected database."""
    return connection.ops.quote_name(model._meta.db_table)


def all_columns(model: type[Model], alias: str) -> str:
    """`alias."column", …` for every concrete field of `model` (`Columns.sql()` of the whole row): the select list of
    a hand-written read that wants the whole row. Named, not `alias.*`, so a statement prepared on the server keeps its
    result type when a migration adds a column (PostgreSQL refuses to run a cached plan whose `*` would now return
    more columns)."""
    return _whole_row(connection.vendor, model, alias)


@cache
def _whole_row(vendor: str, model: type[Model], alias: str) -> str:
    return Columns(model, alias).sql()


def for_update(*, of: tuple[str, ...] = ()) -> str:
    """` FOR UPDATE` (` FOR UPDATE OF a, b` when `of` names aliases), or "" where the database has no row locks.

    SQLite has none (it serialises writers), so there the statement is a plain read. PostgreSQL locks the rows of
    an OF list in the order it names them.
    """
    if of:
        return f" FOR UPDATE OF {', '.join(of)}" if connection.features.has_select_for_update_of else ""
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def for_no_key_update(*, of: tuple[str, ...] = ()) -> str:
    """` FOR NO KEY UPDATE` (` ... OF a, b` when `of` names aliases), or "" on SQLite: the lock an UPDATE of non-key
    columns takes, so rows that merely reference the locked one (a foreign key's KEY SHARE check on insert) are not
    held up, while writers of the same row still queue."""
    if not connection.features.has_select_for_no_key_update:
        return ""
    if of:
        return f" FOR NO KEY UPDATE OF {', '.join(of)}" if connection.features.has_select_for_update_of else ""
    return " FOR NO KEY UPDATE"


def fetch_prepared(sql: str, params: Sequence[Any]) -> tuple[list[tuple[Any, ...]], BaseDatabaseWrapper]:
    """The rows of a read that every request of an endpoint sends, and the connection that read them (for
    `Columns.instance`). On PostgreSQL the statement is prepared on the server the first time a connection runs it
    (payfirst.core.postgresql), so it is planned once per connection, not per request; elsewhere it is an ordinary
    statement. Either way through Django's cursor wrapper: logged, and counted by the tests' query counts."""
    prepared_cursor = getattr(connection, "prepared_cursor", None)
    with prepared_cursor() if prepared_cursor is not None else connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall(), cursor.db


def placeholders(count: int) -> str:
    """`%s, %s, …` for an IN list of `count` parameters."""
    return ", ".join(["%s"] * count)


def can_write_in_with() -> bool:
    """Whether a WITH clause may hold INSERT/UPDATE … RETURNING (PostgreSQL), so that several writes that belong
    together travel as one statement. SQLite has no such CTEs: there the same writes are separate statements in one
    transaction (in-process, so no round trip is saved by joining them)."""
    return connection.vendor == "postgresql"


M = TypeVar("M", bound=Model)


class Columns(Generic[M]):
    """A model's columns under a table alias in a hand-written SELECT, and the instance a row's slice of them makes.

    Values go through the converters the ORM applies (SQLite's text dates and integer booleans, JSON columns), so an
    instance read here is the one a queryset would have built. Made for the connected database (its quoting and
    converters): keep one per database vendor.

    `only` (attribute names, the primary key among them) narrows the columns as `QuerySet.only()` does: the instance
    has the others deferred, and reading one of those later costs a query of its own — name every field the reader
    uses.

    A model that keeps Django's `__init__` and `from_db` and that no `pre_init`/`post_init` receiver listens to (none
    of payfirst's; an ImageField with dimension fields would be one) is built the way `Model.__init__` ends up
    building it — the values in the instance's `__dict__`, a fresh `ModelState` saying which database it came from —
    without the per-field descriptor calls and the two signals `from_db` pays for; any other model goes through
    `from_db`. That is decided when the `Columns` is made (the hot reads make theirs on first use, after every app's
    receivers are connected): a receiver connected later is not seen by it.
    """

    def __init__(self, model: type[M], alias: str, *, only: Sequence[str] | None = None) -> None:
        self.model = model
        self.alias = alias
        self.fields = [field for field in model._meta.concrete_fields if only is None or field.attname in only]
        if only is not None and len(self.fields) != len(set(only)):
            unknown = set(only) - {field.attname for field in self.fields}
            raise ValueError(f"{model.__name__} has no concrete fields {sorted(unknown)}")
        self.attnames = [field.attname for field in self.fields]
        self.pk_index = self.attnames.index(model._meta.pk.attname)
        self.plain = not (
            model.__init__ is not Model.__init__
            or pre_init.has_listeners(model)
            or post_init.has_listeners(model)
            or model.from_db.__func__ is not Model.from_db.__func__  # type: ignore[attr-defined]
        )
        # (position, column expression, converters) of each field that has converters on this database.
        self.converters: list[tuple[int, Any, list[Any]]] = []
        for index, field in enumerate(self.fields):
            column = field.get_col(alias)
            converters = [*connection.ops.get_db_converters(column), *column.get_db_converters(connection)]
            if converters:
                self.converters.append((index, column, converters))

    def __len__(self) -> int:
        return len(self.fields)

    def sql(self) -> str:
        """`alias."column", …` in the model's field order."""
        quote = connection.ops.quote_name
        return ", ".join(f"{self.alias}.{quote(field.column)}" for field in self.fields)

    def instance(self, row: Sequence[Any], start: int, db: BaseDatabaseWrapper) -> M | None:
        """The instance made of `row[start : start + len(self)]` as read through `db` (the cursor's `.db`), or None
        when its primary key is NULL (a LEFT JOIN that found nothing)."""
        values = list(row[start : start + len(self.fields)])
        if values[self.pk_index] is None:
            return None
        for index, column, converters in self.converters:
            for converter in converters:
                values[index] = converter(values[index], column, db)
        if not self.plain:
            return self.model.from_db(db.alias, self.attnames, values)
        made = self.model.__new__(self.model)
        made.__dict__.update(zip(self.attnames, values, strict=True))
        state = made._state = ModelState()
        state.adding, state.db = False, db.alias
        return made


def attach(instance: Model, name: str, related: Model) -> None:
    """Set `instance.<name>` (a foreign key whose row was read in the same statement) as `select_related` does: the
    related instance cached on it, so reading it sends no query."""
    cast("ForeignKey[Any, Any]", instance._meta.get_field(name)).set_cached_value(instance, related)


def instances(
    row: Sequence[Any], groups: Sequence[Columns[Any]], db: BaseDatabaseWrapper, start: int = 0
) -> tuple[list[Any], int]:
    """The instances (or Nones) of consecutive column groups in `row` from `start`, and where the next column
    starts."""
    made = []
    for columns in groups:
        made.append(columns.instance(row, start, db))
        start += len(columns)
    return made, start
