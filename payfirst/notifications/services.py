"""The outbox's two halves: `notify` records an email in the caller's transaction; `send_notification` sends one
after that transaction committed, from the worker, and the sweep sends again what failed.

Callers sit above this app (payments, fulfilment) and pass plain data: the recipient's user id, the kind, a
JSON-able context and a key naming the event (`capture:<payment_id>`, `refund:<refund_id>`,
`booking-cancelled:<booking_id>`). The key is unique, so an event told twice is still one email.

Exactly once: a sender claims a row by a conditional UPDATE (PENDING, due, and not claimed by a live sender), sends
with no transaction open, then marks it SENT by another conditional UPDATE. Two senders never both send a row. A
sender that crashes after the mail server took the message but before the row is marked SENT leaves a claim that
runs out after `CLAIM_LEASE`, and the sweep sends that one message again: the one window of at-least-once.
"""

from __future__ import annotations

import logging
import smtplib
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone
from django_tasks import task

from payfirst.notifications.models import Notification, NotificationKind, NotificationStatus
from payfirst.ops.locks import queue_task

logger = logging.getLogger("payfirst.notifications")

CLAIM_LEASE = timedelta(minutes=5)
RETRY_FIRST = timedelta(minutes=1)
RETRY_MAX = timedelta(hours=1)
MAX_ATTEMPTS = 12  # about eight hours of tries; then FAILED, in the admin's outbox with its last error
# Below the default (0) of every other task: under a burst, the worker captures and fulfils the payments whose
# webhooks are queued before it writes their e-mails, which wait a moment and are never skipped.
EMAIL_TASK_PRIORITY = -10


def notify(*, key: str, kind: str, user_id: int, context: Mapping[str, Any]) -> None:
    """Record one email to `user_id` about the event named `key` and queue the task that sends it, both in the
    caller's transaction: the worker sees them when the event commits, and a rolled-back event leaves neither.
    Recording the same key again records nothing, and the task it queues finds that email sent, or being sent, and
    does nothing. Two INSERTs."""
    if kind not in NotificationKind.values:
        raise ValueError(f"Unknown notification kind {kind!r}.")
    Notification.objects.bulk_create(
        [Notification(key=key, kind=kind, user_id=user_id, context=dict(context), next_attempt_at=timezone.now())],
        ignore_conflicts=True,
    )
    queue_task(send_notification_task, key=key)


def retry_delay(*, attempts: int) -> timedelta:
    """Backoff after a failed try: 1 min, 2 min, 4 min, … up to an hour."""
    return min(RETRY_FIRST * (2 ** max(attempts - 1, 0)), RETRY_MAX)


def render(notification: Notification) -> tuple[str, str]:
    """The subject and plain-text body of a notification, from its kind's templates and its context."""
    context = {
        **notification.context,
        "full_name": notification.user.full_name,
        "frontend_base_url": settings.FRONTEND_BASE_URL.rstrip("/"),
    }
    base = f"notifications/email/{notification.kind}"
    subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
    body = render_to_string(f"{base}.txt", context)
    return subject[:255], body


def _claim(*, key: str, now: datetime) -> bool:
    return bool(
        Notification.objects.filter(key=key, status=NotificationStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + CLAIM_LEASE, attempts=F("attempts") + 1, updated_at=now)
    )


def send_notification(*, key: str, now: datetime | None = None) -> str:
    """Send the notification `key` if it is due and no other sender holds it; returns its status afterwards
    ("claimed_elsewhere" when another sender holds it or it is not due yet). A mail server that fails leaves it
    PENDING with a later `next_attempt_at` (FAILED after MAX_ATTEMPTS)."""
    now = now or timezone.now()
    if not _claim(key=key, now=now):
        status = Notification.objects.filter(key=key).values_list("status", flat=True).first()
        return "claimed_elsewhere" if status is None or status == NotificationStatus.PENDING else status
    notification = Notification.objects.select_related("user").get(key=key)
    subject, body = render(notification)
    to = notification.user.email
    message = EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[to])
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as error:  # OSError: refused, unreachable, timed out
        gave_up = notification.attempts >= MAX_ATTEMPTS
        status = NotificationStatus.FAILED if gave_up else NotificationStatus.PENDING
        Notification.objects.filter(pk=notification.pk, status=NotificationStatus.PENDING).update(
            status=status,
            claimed_until=None,
            next_attempt_at=now + retry_delay(attempts=notification.attempts),
            last_error=f"{type(error).__name__}: {error}"[:2000],
            updated_at=timezone.now(),
        )
        log = logger.error if gave_up else logger.warning
        log(
            "email not sent; gave up" if gave_up else "email not sent; tried again later",
            extra={"notification": key, "attempts": notification.attempts, "error": type(error).__name__},
        )
        return status
    Notification.objects.filter(pk=notification.pk, status=NotificationStatus.PENDING).update(
        status=NotificationStatus.SENT,
        sent_at=timezone.now(),
        claimed_until=None,
        to_email=to,
        subject=subject,
        body=body,
        last_error="",
        updated_at=timezone.now(),
    )
    logger.info("email sent", extra={"notification": key, "kind": notification.kind})
    return NotificationStatus.SENT


def send_due_notifications(*, limit: int = 100, now: datetime | None = None) -> Counter[str]:
    """The sweep: send each PENDING notification that is due and unclaimed (oldest first), e.g. one whose queued
    task never ran or whose mail server failed. Counts the statuses reached.

    It stops at the first send that fails: the mail server is down or hanging, and trying the rest now would only
    hold the worker for a timeout each (and spend their attempts). They wait for the next sweep."""
    now = now or timezone.now()
    keys = list(
        Notification.objects.filter(status=NotificationStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_attempt_at", "pk")
        .values_list("key", flat=True)[:limit]
    )
    counts: Counter[str] = Counter()
    for key in keys:
        status = send_notification(key=key, now=now)
        counts[status.lower()] += 1
        if status in (NotificationStatus.PENDING, NotificationStatus.FAILED):
            break
    return counts


@task(queue_name="default", priority=EMAIL_TASK_PRIORITY)
def send_notification_task(key: str) -> str:
    """Send one notification, if no other sender has (queued by `notify` in its event's transaction)."""
    return send_notification(key=key)
