"""Django's database cache with an atomic `incr`, so throttle counters shared by several processes never lose a hit.

Django's own `incr` reads the value and writes it back (with a fresh default timeout); two processes doing that at
once would both write n+1. Here the read and the write happen in one transaction that holds the row (PostgreSQL:
SELECT ... FOR UPDATE) or the database's write lock (SQLite: payfirst opens every transaction IMMEDIATE), and only
the value changes: the entry keeps the expiry it was added with.
"""

from __future__ import annotations

import base64
import pickle
from typing import Any

from django.core.cache.backends import db
from django.db import connections, router, transaction

_MISSING = object()


class DatabaseCache(db.DatabaseCache):
    _table: str  # the table's name, set by Django's BaseDatabaseCache.__init__ (the stubs leave it out)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> Any:
        alias = router.db_for_write(self.cache_model_class)
        connection = connections[alias]
        quote = connection.ops.quote_name
        table, column = quote(self._table), quote("cache_key")
        db_key = self.make_and_validate_key(key, version=version)
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            if connection.features.has_select_for_update:
                cursor.execute(f"SELECT 1 FROM {table} WHERE {column} = %s FOR UPDATE", [db_key])
            value = self.get(key, _MISSING, version=version)
            if value is _MISSING:
                raise ValueError(f"Key '{key}' not found")
            new_value = value + delta
            encoded = base64.b64encode(pickle.dumps(new_value, self.pickle_protocol)).decode("latin1")
            cursor.execute(f"UPDATE {table} SET {quote('value')} = %s WHERE {column} = %s", [encoded, db_key])
        return new_value
