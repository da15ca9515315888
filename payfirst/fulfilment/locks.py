"""Fulfilment's hand-written hot-path SQL: the user-row lock that makes two captures of plans take turns."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import connection

from payfirst.core.sql import for_no_key_update, table


def lock_user_row(*, user_id: int) -> None:
    """SELECT ... FOR NO KEY UPDATE of one user row, as plain SQL: it runs on every capture with a plan, and the
    ORM's queryset construction cost more than the statement. SQLite has no row locks (it serialises writers)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table(get_user_model())} WHERE id = %s{for_no_key_update()}", [user_id])
        cursor.fetchall()
