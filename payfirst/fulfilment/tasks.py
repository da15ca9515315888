"""Scheduled fulfilment work on the task queue: subscriptions whose period is over become EXPIRED, every hour."""

from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from payfirst.fulfilment.services import expire_subscriptions
from payfirst.ops.tasks import periodic


@periodic(every=timedelta(hours=1))
@task()
def expire_subscriptions_task() -> int:
    """Mark ACTIVE subscriptions past `ends_at` EXPIRED; returns how many changed."""
    return expire_subscriptions()
