"""The hourly task that expires subscriptions, run through the queue exactly as the worker runs it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from payfirst.fulfilment.models import Subscription, SubscriptionStatus
from payfirst.fulfilment.tasks import expire_subscriptions_task
from payfirst.ops.tasks import enqueue_due_periodic_tasks, periodic_tasks, run_queued_tasks
from payfirst.payments.handover import fulfil
from payfirst.testing.factories import make_captured_payment, make_plan, plan_line

pytestmark = pytest.mark.django_db(transaction=True)


def test_expire_subscriptions_task_is_scheduled_hourly_and_expires_ended_ones(user):
    spec = periodic_tasks()[expire_subscriptions_task.module_path]
    assert (spec.every, spec.queue_name) == (timedelta(hours=1), "periodic")
    ended, running = (make_captured_payment(user=user, lines=[plan_line(make_plan())]) for _ in range(2))
    for payment in (ended, running):
        fulfil(payment=payment)
    past = timezone.now() - timedelta(hours=1)
    Subscription.objects.filter(payment=ended).update(starts_at=past - timedelta(days=30), ends_at=past)

    assert enqueue_due_periodic_tasks(names=[spec.name]) == [spec.name]
    assert run_queued_tasks(queue_names=["periodic"]) == 1

    assert Subscription.objects.get(payment=ended).status == SubscriptionStatus.EXPIRED
    assert Subscription.objects.get(payment=running).status == SubscriptionStatus.ACTIVE
