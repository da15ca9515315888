"""Django's PostgreSQL backend (psycopg 3), with two changes for the reads every request makes.

**A health check with no round trip.** With `CONN_HEALTH_CHECKS` Django sends `SELECT 1` before the first statement
of every request that reuses a connection: one more round trip on every request. This backend asks the socket
instead. An idle connection in autocommit has nothing to read; when the server ends it (a restart,
`pg_terminate_backend`, an idle timeout) it sends its goodbye — an error message, then end of file — and the socket
becomes readable. So: readable, closed or broken → the connection is closed and the next statement opens a new one,
exactly as a failed `SELECT 1` would. A connection that cannot answer without saying so (a network that drops packets
silently) is caught by neither check until TCP gives up. After an error inside a request Django still runs its own
`SELECT 1` (`is_usable`) before reusing the connection.

**Prepared statements.** With `PREPARED_STATEMENTS` on (the default; config/settings.py), statements are bound on
the server (`server_side_binding`) and psycopg prepares each one a connection has run `prepare_threshold` times
(`PG_PREPARE_THRESHOLD`, 5), so PostgreSQL plans the statements every capture and every request repeats once per
connection, and the parameters travel apart from the text instead of being quoted into it in Python.
`prepared_cursor()` gives a cursor whose statements are prepared the first time: the hot reads, whose planning costs
more than running them. Hand-written statements name their columns (`core.sql.all_columns`), never `*`: a prepared
`SELECT *` stops working when a migration adds a column. Behind a pooler that cannot carry prepared statements across
server connections (PgBouncer in transaction mode before 1.21), set `PG_PREPARED_STATEMENTS=0`: client-side binding
as in Django's default, nothing prepared, and `prepared_cursor()` an ordinary cursor.
"""

from __future__ import annotations

import select
import sys
from typing import Any

import psycopg
from django.db.backends.postgresql import base
from django.db.backends.utils import CursorWrapper


class _PreparingCursor(base.ServerBindingCursor):  # type: ignore[name-defined]  # defined only with psycopg 3
    """psycopg's server-binding cursor (Django's, with callproc), asking for every statement to be prepared."""

    def execute(
        self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None
    ) -> Any:
        return super().execute(query, params, prepare=True, binary=binary)


class DatabaseWrapper(base.DatabaseWrapper):
    health_check_done: bool

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        if params.get("prepare_threshold") is None:
            # psycopg prepares nothing when the threshold is None, even when asked. A threshold no statement count
            # reaches leaves the choice to prepare=True, which only `prepared_cursor()` passes (with
            # PREPARED_STATEMENTS off it is an ordinary cursor, so nothing is prepared at all).
            params["prepare_threshold"] = sys.maxsize
        return params

    def prepared_cursor(self) -> CursorWrapper:
        """A cursor (Django's wrapper, so logged and counted like any) whose statements are prepared on the server."""
        if not self.settings_dict.get("PREPARED_STATEMENTS", True):
            return self.cursor()
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            wrap = getattr(self, "_prepare_cursor")  # noqa: B009 - Django's own cursor wrapping; not in django-stubs
            return wrap(_PreparingCursor(self.connection))

    def close_if_health_check_failed(self) -> None:
        enabled = getattr(self, "health_check_enabled")  # noqa: B009 - set from CONN_HEALTH_CHECKS; not in django-stubs
        if self.connection is None or not enabled or self.health_check_done:
            return
        if self.server_hung_up():
            self.close()
        self.health_check_done = True

    def server_hung_up(self) -> bool:
        """True when the idle connection can no longer be used: psycopg knows it is closed or broken, or the server
        has written to it (only a goodbye arrives unasked: payfirst does not LISTEN)."""
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return True
        poller = select.poll()
        try:
            poller.register(connection.fileno(), select.POLLIN)
        except (OSError, ValueError, psycopg.Error):  # the socket is gone already
            return True
        return bool(poller.poll(0))
