"""Idempotency-Key for POSTs that create payments or refunds: the same key, user and body get the first response
again; another body gets 422; a request while the first still runs gets 409. Used by apis.py around one service.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.utils import timezone
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response

from payfirst.accounts.selectors import signed_in_user
from payfirst.core.api import exception_handler, idempotency_key_from
from payfirst.core.errors import AppError
from payfirst.payments.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from payfirst.payments.locks import insert_idempotency_record_once
from payfirst.payments.models import IdempotencyRecord, IdempotencyState

logger = logging.getLogger("payfirst.payments")

# Kept at least this long (API.md promises 24 h); purge_idempotency_records deletes older ones.
KEEP_FOR = timedelta(hours=48)
# An in-progress record older than this belongs to a request that died; the next retry may take it over.
ABANDONED_AFTER = timedelta(minutes=5)
REPLAY_HEADER = "Idempotent-Replayed"


def request_fingerprint(request: Request) -> str:
    """sha256 over the method, the path and the body as canonical JSON (key order and spacing do not matter)."""
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method}\n{request.path}\n{body}".encode()).hexdigest()


def respond_idempotently(*, request: Request, view: object, handler: Callable[[], Response]) -> Response:
    """Run `handler` once per (user, Idempotency-Key); without the header it simply runs.

    Answers that the client caused (2xx, 4xx) are stored and replayed; a 5xx (e.g. 502 gateway_error) is not, so
    retrying with the same key runs again — the services make that safe.
    """
    key = idempotency_key_from(request)
    if key is None:
        return handler()
    fingerprint = request_fingerprint(request)
    record = _claim(user_id=signed_in_user(request).pk, key=key, fingerprint=fingerprint)
    if record.state == IdempotencyState.DONE:
        replay = Response(record.body, status=record.status_code)
        replay[REPLAY_HEADER] = "true"
        return replay
    try:
        response = handler()
    except (AppError, APIException) as error:
        rendered = exception_handler(error, {"request": request, "view": view})
        if rendered is None:  # exception_handler renders every AppError and APIException; for the type checker
            raise
        response = rendered
    except BaseException:
        # An unexpected failure: forget the key so that the client's retry runs again.
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
        raise
    if response.status_code >= 500:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
    else:
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            state=IdempotencyState.DONE,
            status_code=response.status_code,
            body=response.data,
            completed_at=timezone.now(),
        )
    return response


def _claim(*, user_id: int, key: str, fingerprint: str) -> IdempotencyRecord:
    """Insert the in-progress record, or return the finished one; the unique (user, key) constraint decides."""
    existing = None
    for _ in range(3):
        # One statement, no transaction block around it: the unique constraint decides who claims the key.
        now = timezone.now()
        claimed = insert_idempotency_record_once(
            user_id=user_id, key=key, fingerprint=fingerprint, state=IdempotencyState.IN_PROGRESS, now=now
        )
        if claimed is not None:
            return IdempotencyRecord(
                pk=claimed,
                user_id=user_id,
                key=key,
                fingerprint=fingerprint,
                state=IdempotencyState.IN_PROGRESS,
                created_at=now,
            )
        existing = IdempotencyRecord.objects.filter(user_id=user_id, key=key).first()
        if existing is not None:
            break
        # The holder finished with a 5xx and forgot the key in between: claim it afresh.
    if existing is None:
        raise IdempotencyKeyInUse()
    if existing.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    if existing.state == IdempotencyState.DONE:
        return existing
    now = timezone.now()
    taken_over = IdempotencyRecord.objects.filter(
        pk=existing.pk, state=IdempotencyState.IN_PROGRESS, created_at__lt=now - ABANDONED_AFTER
    ).update(created_at=now)
    if not taken_over:
        raise IdempotencyKeyInUse()
    logger.warning("idempotency key of an abandoned request taken over", extra={"idempotency_record": existing.pk})
    existing.created_at = now
    return existing


def purge_idempotency_records(*, now: datetime | None = None) -> int:
    """Delete records older than KEEP_FOR (well past the 24 h API.md promises)."""
    cutoff = (now or timezone.now()) - KEEP_FOR
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
