"""The outbox on the task queue: each notification is sent by a task queued in its event's transaction, and a sweep
every minute sends what is due again (a failed send after its backoff, or a task that never ran)."""

from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from payfirst.notifications.services import send_due_notifications, send_notification_task
from payfirst.ops.tasks import periodic

__all__ = ["send_due_notifications_task", "send_notification_task"]


@periodic(every=timedelta(minutes=1))
@task()
def send_due_notifications_task() -> dict[str, int]:
    """Send the PENDING notifications that are due (retries with backoff, and any whose task was lost)."""
    return dict(send_due_notifications())
