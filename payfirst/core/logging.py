"""Logging context and format: one JSON object per line, carrying the request id of the request that wrote it, or
the task id while a queued task runs; and the optional Sentry hookup, tagged the same way."""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import sentry_sdk
from django.conf import settings
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter
from sentry_sdk.integrations.logging import ignore_logger
from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber
from sentry_sdk.transport import Transport
from sentry_sdk.types import Event, Hint

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
task_id_var: ContextVar[str | None] = ContextVar("task_id", default=None)


class RequestIdFilter(logging.Filter):
    """Put `request_id` on every record, or `task_id` instead while a queued task runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        task_id = task_id_var.get()
        if task_id is not None:
            if not hasattr(record, "task_id"):
                record.task_id = task_id
        elif not hasattr(record, "request_id"):
            # Django logs a request's 4xx/5xx after the middleware chain has returned; the request still knows its id.
            request_id = getattr(getattr(record, "request", None), "request_id", None)
            record.request_id = request_id or request_id_var.get()
        return True


class JsonFormatter(_JsonFormatter):
    """python-json-logger's formatter, with the time first, in UTC, as ISO 8601 (not the server's local time)."""

    def add_fields(self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        log_record["time"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")
        super().add_fields(log_record, record, message_dict)


def tag_with_context(event: Event, hint: Hint) -> Event:
    """Sentry's before_send: tag each event with the task id, or the request id, of the code that raised or
    logged it."""
    tags = event.setdefault("tags", {})
    task_id = task_id_var.get()
    if task_id is not None:
        tags["task_id"] = task_id
    elif (request_id := request_id_var.get()) != "-":
        tags["request_id"] = request_id
    return event


# Keys whose values never leave the process, wherever they appear in an event (request headers, form data, extra,
# breadcrumbs): Sentry's own list plus payfirst's gateway credentials and signatures.
SECRET_KEYS: tuple[str, ...] = (
    *DEFAULT_DENYLIST,
    "key_secret",
    "client_secret",
    "webhook_secret",
    "webhook_password",
    "signature",
    "razorpay_signature",
    "x-razorpay-signature",
    "x_razorpay_signature",
    "access_token",
    "refresh",
    "dsn",
)
# Settings whose values are secrets: any string in an event that contains one has it replaced, whatever its key
# (an exception message, a URL, a log line's argument).
SECRET_SETTINGS: tuple[str, ...] = (
    "SECRET_KEY",
    "RAZORPAY_KEY_SECRET",
    "RAZORPAY_WEBHOOK_SECRET",
    "PHONEPE_CLIENT_SECRET",
    "PHONEPE_WEBHOOK_PASSWORD",
    "EMAIL_HOST_PASSWORD",
    "METRICS_TOKEN",
    "SENTRY_DSN",
)
FILTERED = "[Filtered]"
_MIN_SECRET_LENGTH = 6  # shorter values would scrub ordinary words


def secret_values() -> list[str]:
    """The secret values configured now, longest first (so a secret containing another is replaced whole)."""
    values = {str(getattr(settings, name, "") or "") for name in SECRET_SETTINGS}
    for alias in getattr(settings, "DATABASES", {}).values():
        values.add(str(alias.get("PASSWORD") or ""))
    return sorted((value for value in values if len(value) >= _MIN_SECRET_LENGTH), key=len, reverse=True)


def scrub(value: Any, *, secrets: list[str]) -> Any:
    """`value` with every occurrence of a secret replaced by FILTERED, at any depth (dicts, lists, strings)."""
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, FILTERED)
        return value
    if isinstance(value, dict):
        return {key: scrub(item, secrets=secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(item, secrets=secrets) for item in value]
    return value


def scrub_event(event: Event, hint: Hint) -> Event:
    """Sentry's before_send: no configured secret value anywhere in the event; then the request or task id tag."""
    return tag_with_context(scrub(event, secrets=secret_values()), hint)


def scrub_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    """Sentry's before_breadcrumb: log lines and HTTP calls recorded before an error carry no secret either."""
    scrubbed: dict[str, Any] = scrub(crumb, secrets=secret_values())
    return scrubbed


def init_sentry(
    *, dsn: str, environment: str, traces_sample_rate: float, transport: type[Transport] | None = None
) -> None:
    """Report unhandled errors and ERROR log lines (failed tasks included) to Sentry. No secret and no personal data
    leaves the process: no frame variables at all (they held the gateways' credentials), no request bodies, secret
    keys scrubbed by Sentry's EventScrubber and secret values by scrub_event / scrub_breadcrumb. `transport`: tests
    capture what would be sent."""
    options: dict[str, Any] = {}
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        include_local_variables=False,
        include_source_context=False,
        max_request_body_size="never",
        event_scrubber=EventScrubber(denylist=list(SECRET_KEYS), recursive=True),
        before_send=scrub_event,
        before_send_transaction=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
        **options,
    )
    # django.request repeats, without the traceback, every 5xx that payfirst.errors already reported, and logs each
    # 503 of /readyz while the database is away: neither should page anyone twice.
    ignore_logger("django.request")
