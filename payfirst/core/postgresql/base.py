"""Django's PostgreSQL backend (psycopg 3), with a health check of a persistent connection that needs no round trip.

With `CONN_HEALTH_CHECKS` Django sends `SELECT 1` before the first statement of every request that reuses a
connection: one more round trip on every request, the most expensive thing a short read does after its own query.
This backend asks the socket instead. An idle connection in autocommit has nothing to read; when the server ends it
(a restart, `pg_terminate_backend`, an idle timeout) it sends its goodbye — an error message, then end of file — and
the socket becomes readable. So: readable, closed or broken → the connection is closed and the next statement opens
a new one, exactly as a failed `SELECT 1` would. A connection that cannot answer without saying so (a network that
drops packets silently) is caught by neither check until TCP gives up.

After an error inside a request Django still runs its own `SELECT 1` (`is_usable`) before reusing the connection.
"""

from __future__ import annotations

import select

import psycopg
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    health_check_done: bool

    def close_if_health_check_failed(self) -> None:
        enabled = getattr(self, "health_check_enabled")  # noqa: B009 - set by Django from CONN_HEALTH_CHECKS; not in django-stubs
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
