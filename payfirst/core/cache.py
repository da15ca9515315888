"""Django's database cache with an atomic `incr`, so throttle counters shared by several processes never lose a hit,
and an `add` and `incr` of few round trips, since every counted request runs both (payments, sign-in).

Django's own `incr` reads the value and writes it back (with a fresh default timeout); two processes doing that at
once would both write n+1. Here the write is a compare-and-set on the value read (and its expiry), retried when
another process counted in between: no hit is lost, only the value changes, and the entry keeps the expiry it was
added with. Django's own `add` counts the table, then reads and inserts in a transaction (five round trips); here it
is one INSERT ... ON CONFLICT that also replaces an expired entry. The count-and-cull Django runs on every write
(expired entries deleted, then a share of the rest past MAX_ENTRIES) runs for `add` in `prune`, which the worker
calls every minute (payfirst.ops.tasks.prune_cache_task); `set` still culls as Django's does.
"""

from __future__ import annotations

import base64
import pickle
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache.backends import db
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.db import connections, models, router
from django.utils import timezone


class DatabaseCache(db.DatabaseCache):
    _table: str  # the table's name, set by Django's BaseDatabaseCache.__init__ (the stubs leave it out)
    _max_entries: int
    _cull: Any  # Django's BaseDatabaseCache._cull(db, cursor, now, num) (the stubs leave it out)

    def _encode(self, value: Any) -> str:
        return base64.b64encode(pickle.dumps(value, self.pickle_protocol)).decode("latin1")

    def _expiry(self, timeout: Any) -> datetime:
        seconds = self.get_backend_timeout(timeout)
        if seconds is None:
            return datetime.max.replace(microsecond=0)
        return datetime.fromtimestamp(seconds, tz=UTC if settings.USE_TZ else None).replace(microsecond=0)

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        """Store `value` unless a live entry has the key; True when stored. One statement: the unique key decides,
        and an expired entry is replaced (as Django's `add` does)."""
        db_key = self.make_and_validate_key(key, version=version)
        alias = router.db_for_write(self.cache_model_class)
        connection = connections[alias]
        quote = connection.ops.quote_name
        table, key_column = quote(self._table), quote("cache_key")
        value_column, expires_column = quote("value"), quote("expires")
        now = timezone.now().replace(microsecond=0)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({key_column}, {value_column}, {expires_column}) VALUES (%s, %s, %s) "
                f"ON CONFLICT ({key_column}) DO UPDATE SET {value_column} = excluded.{value_column}, "
                f"{expires_column} = excluded.{expires_column} WHERE {table}.{expires_column} < %s",
                [
                    db_key,
                    self._encode(value),
                    connection.ops.adapt_datetimefield_value(self._expiry(timeout)),
                    connection.ops.adapt_datetimefield_value(now),
                ],
            )
            return cursor.rowcount == 1

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> Any:
        """Add `delta` to a live entry and return the new value; ValueError when there is none. Two statements in
        autocommit (a read, then a compare-and-set UPDATE), again when another process changed the entry between
        them: each retry means another hit was counted, so this always finishes."""
        db_key = self.make_and_validate_key(key, version=version)
        alias = router.db_for_write(self.cache_model_class)
        connection = connections[alias]
        quote = connection.ops.quote_name
        table, key_column = quote(self._table), quote("cache_key")
        value_column, expires_column = quote("value"), quote("expires")
        expires_field: models.DateTimeField = models.DateTimeField()
        with connection.cursor() as cursor:
            while True:
                now = connection.ops.adapt_datetimefield_value(timezone.now().replace(microsecond=0))
                cursor.execute(
                    f"SELECT {value_column}, {expires_column} FROM {table} "
                    f"WHERE {key_column} = %s AND {expires_column} >= %s",
                    [db_key, now],
                )
                row = cursor.fetchone()
                if row is None:
                    raise ValueError(f"Key '{key}' not found")
                stored, expires = row
                expires = connection.ops.adapt_datetimefield_value(self._as_datetime(expires, expires_field, alias))
                new_value = pickle.loads(base64.b64decode(stored.encode())) + delta
                cursor.execute(
                    f"UPDATE {table} SET {value_column} = %s "
                    f"WHERE {key_column} = %s AND {value_column} = %s AND {expires_column} = %s",
                    [self._encode(new_value), db_key, stored, expires],
                )
                if cursor.rowcount == 1:
                    return new_value

    def prune(self) -> int:
        """Delete the expired entries and, past MAX_ENTRIES, cull a share of the rest as Django's own writes do
        (CULL_FREQUENCY); returns how many expired entries went. `add` (on every counted request) leaves this here:
        counting the table is a scan."""
        alias = router.db_for_write(self.cache_model_class)
        connection = connections[alias]
        table = connection.ops.quote_name(self._table)
        now = timezone.now().replace(microsecond=0)
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE {connection.ops.quote_name('expires')} < %s",
                [connection.ops.adapt_datetimefield_value(now)],
            )
            expired = int(cursor.rowcount)
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            count = int(cursor.fetchone()[0])
            if count > self._max_entries:
                self._cull(alias, cursor, now, count)
        return expired

    @staticmethod
    def _as_datetime(value: Any, field: models.DateTimeField, alias: str) -> Any:
        """The `expires` column as Django reads it (SQLite hands back text on some paths), for comparing it again."""
        connection = connections[alias]
        expression = models.Expression(output_field=field)
        for converter in connection.ops.get_db_converters(expression) + expression.get_db_converters(connection):
            value = converter(value, expression, connection)
        return value
