"""Scheduled payments work on the task queue: expiring stale payments every minute, purging old idempotency keys;
the webhook, reconciliation and refund tasks are declared beside their work and gathered here."""

from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from payfirst.ops.tasks import periodic
from payfirst.payments.idempotency import purge_idempotency_records
from payfirst.payments.reconcile import reconcile_open_payments_task
from payfirst.payments.refunds import retry_pending_refunds_task, send_refund_task
from payfirst.payments.services import expire_stale_payments
from payfirst.payments.webhooks import process_due_webhooks_task, process_webhook_task, purge_webhook_events_task

__all__ = [
    "expire_stale_payments_task",
    "process_due_webhooks_task",
    "process_webhook_task",
    "purge_idempotency_records_task",
    "purge_webhook_events_task",
    "reconcile_open_payments_task",
    "retry_pending_refunds_task",
    "send_refund_task",
]


@periodic(every=timedelta(minutes=1))
@task()
def expire_stale_payments_task() -> dict[str, int]:
    """PENDING payments past expires_at: a last status check, then EXPIRED with their reservations released."""
    return dict(expire_stale_payments())


@periodic(every=timedelta(hours=6))
@task()
def purge_idempotency_records_task() -> int:
    return purge_idempotency_records()
