"""Start-up checks. The database features payfirst's hand-written SQL relies on (SQLite 3.33 for UPDATE ... FROM),
and the configurations payfirst refuses as unsafe: `manage.py check` (and migrate, runserver) reports them, and
config/wsgi.py raises on them, so gunicorn's workers fail to boot and gunicorn exits instead of serving.

Production here means neither DEBUG nor PAYFIRST_DEMO: that is where the sandbox gateways, the demo's SECRET_KEY and
an open /metrics are errors.
"""

from __future__ import annotations

import ipaddress
import sqlite3
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

TAG = "payfirst_config"


def invalid_networks(cidrs: list[str]) -> list[str]:
    bad = []
    for cidr in cidrs:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            bad.append(cidr)
    return bad


@checks.register(TAG, checks.Tags.security)
def check_unsafe_configuration(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    demo, debug = bool(getattr(settings, "DEMO", False)), bool(settings.DEBUG)
    production = not (demo or debug)
    found: list[checks.CheckMessage] = []
    if production and settings.PAYFIRST_GATEWAYS == "sandbox":
        found.append(
            checks.Error(
                "PAYFIRST_GATEWAYS=sandbox with DEBUG off and no PAYFIRST_DEMO: the sandbox would serve its fault "
                "endpoint and Pay buttons that mark any order paid.",
                hint="Set PAYFIRST_GATEWAYS=live with the real gateway keys, or PAYFIRST_DEMO=1 for a demo.",
                id="payfirst.E001",
            )
        )
    if settings.SECRET_KEY == settings.DEMO_SECRET_KEY and not demo:
        message = "SECRET_KEY is the demo's published key, outside the demo (PAYFIRST_DEMO is not set)."
        hint = "Set SECRET_KEY to a long random value of your own (e.g. secrets.token_urlsafe(50))."
        found.append(
            checks.Error(message, hint=hint, id="payfirst.E002")
            if production
            else checks.Warning(message, hint=hint, id="payfirst.W002")
        )
    allow_from = list(getattr(settings, "METRICS_ALLOW_FROM", []))
    bad = invalid_networks(allow_from)
    if bad:
        found.append(
            checks.Error(
                f"METRICS_ALLOW_FROM has entries that are not IP networks: {', '.join(bad)}.",
                hint="Use a comma-separated list of addresses or CIDRs, e.g. 10.0.0.0/8,127.0.0.1.",
                id="payfirst.E003",
            )
        )
    if production and not (allow_from or settings.METRICS_TOKEN or settings.METRICS_PUBLIC):
        found.append(
            checks.Error(
                "/metrics would be open to anyone: neither METRICS_ALLOW_FROM nor METRICS_TOKEN is set.",
                hint="Set METRICS_ALLOW_FROM to your scraper's networks, or METRICS_TOKEN for a bearer token; "
                "METRICS_PUBLIC=1 opens it on purpose (when the network in front already restricts it).",
                id="payfirst.E004",
            )
        )
    return found


def refuse_unsafe_configuration() -> None:
    """Raise ImproperlyConfigured when a check above fails: a web server must not start in that state."""
    errors = [message for message in checks.run_checks(tags=[TAG]) if message.is_serious()]
    if errors:
        raise ImproperlyConfigured("Refusing to start:\n" + "\n".join(f"  {error}" for error in errors))


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
        id="payfirst.E010",
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
