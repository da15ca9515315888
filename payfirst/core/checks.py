"""System checks: the database features payfirst's hand-written SQL relies on."""

from __future__ import annotations

import sqlite3
from typing import Any

from django.core.checks import Error, register
from django.db import connections

# The set-based guarded updates (catalog/inventory.py) use `UPDATE ... FROM`, which SQLite has from 3.33 on;
# Django itself accepts 3.31.
MIN_SQLITE = (3, 33, 0)


def sqlite_too_old(*, alias: str, version: tuple[int, ...]) -> Error | None:
    """The check's error for an SQLite `version` older than 3.33, or None."""
    if version >= MIN_SQLITE:
        return None
    return Error(
        f"SQLite {'.'.join(map(str, version))} is too old: payfirst needs SQLite 3.33 or newer "
        "(its stock and slot updates use UPDATE ... FROM).",
        hint="Use a Python built with a newer SQLite, or PostgreSQL (set DATABASE_URL).",
        id="payfirst.E001",
        obj=alias,
    )


@register("database")
def sqlite_supports_update_from(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[Error]:
    """Refuse an SQLite database older than 3.33 (run by `check --database` and by `migrate`)."""
    errors = []
    for alias in databases or ():
        if connections[alias].vendor == "sqlite":
            error = sqlite_too_old(alias=alias, version=sqlite3.sqlite_version_info)
            if error is not None:
                errors.append(error)
    return errors
