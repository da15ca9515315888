"""The delivery loop: threads inside the sandbox server process that send due webhooks and run due jobs.

Work is claimed by a conditional UPDATE that sets a lease; a thread (or a whole process) that dies mid-way leaves a
lease that runs out, and the row is claimed and done again: a delivery is never lost, at the price of an occasional
duplicate, which real gateways also send.

An idle thread sleeps until the earliest pending delivery or job falls due, and at most IDLE_SECONDS; work this
process commits wakes it at once (sandbox/wakeups.py). Threads do not poll the database while nothing is due."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import F, Min, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from sandbox.models import Job, WebhookDelivery
from sandbox.phonepe import services as phonepe
from sandbox.razorpay import services as razorpay
from sandbox.wakeups import generation, sleep, wake
from sandbox.webhooks import send

logger = logging.getLogger(__name__)

# The longest an idle thread sleeps without looking: it covers work written by another process (a second sandbox
# process on the same database) and claims whose lease ran out.
IDLE_SECONDS = 1.0
JOB_HANDLERS: dict[str, Callable[[str], str]] = {
    Job.Kind.RAZORPAY_REFUND_SETTLE: razorpay.settle_refund,
    Job.Kind.RAZORPAY_AUTO_REFUND: razorpay.auto_refund,
    Job.Kind.RAZORPAY_LATE_AUTHORIZATION: razorpay.authorize_late,
    Job.Kind.PHONEPE_REFUND_STEP: phonepe.advance_refund,
    Job.Kind.PHONEPE_ORDER_EXPIRY: phonepe.expire_order,
}

_stop = threading.Event()
_threads: list[threading.Thread] = []


def lease() -> timedelta:
    # Longer than one webhook attempt can take, so a live thread never loses its claim.
    seconds = float(settings.SANDBOX_LEASE_SECONDS) or float(settings.SANDBOX_WEBHOOK_TIMEOUT_SECONDS) + 25
    return timedelta(seconds=seconds)


def claim_delivery() -> WebhookDelivery | None:
    now = timezone.now()
    due = (
        WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING, next_attempt_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .order_by("next_attempt_at", "pk")
    )
    for pk in due.values_list("pk", flat=True)[:8]:
        if due.filter(pk=pk).update(lease_until=now + lease(), attempts=F("attempts") + 1):
            return WebhookDelivery.objects.get(pk=pk)
    return None


def claim_job() -> Job | None:
    now = timezone.now()
    due = (
        Job.objects.filter(done_at__isnull=True, run_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .order_by("run_at", "pk")
    )
    for pk in due.values_list("pk", flat=True)[:8]:
        if due.filter(pk=pk).update(lease_until=now + lease()):
            return Job.objects.get(pk=pk)
    return None


def seconds_until_due() -> float:
    """Until the earliest pending delivery or unfinished job falls due (a claimed one: when its lease runs out), at
    most IDLE_SECONDS."""
    now = timezone.now()
    moments = [
        WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING, next_attempt_at__isnull=False).aggregate(
            at=Min(Greatest("next_attempt_at", Coalesce("lease_until", "next_attempt_at")))
        )["at"],
        Job.objects.filter(done_at__isnull=True).aggregate(
            at=Min(Greatest("run_at", Coalesce("lease_until", "run_at")))
        )["at"],
    ]
    due = [(moment - now).total_seconds() for moment in moments if moment is not None]
    return min([IDLE_SECONDS, *due])


def run_job(job: Job) -> str:
    """Each handler moves its subject by conditional UPDATEs, so a job run twice (a lost lease) changes it once."""
    outcome = JOB_HANDLERS[job.kind](job.subject)
    Job.objects.filter(pk=job.pk, done_at__isnull=True).update(done_at=timezone.now(), outcome=outcome[:64])
    return outcome


def work_once() -> bool:
    """Send one due webhook or run one due job. False when nothing was due."""
    delivery = claim_delivery()
    if delivery is not None:
        send(delivery)
        return True
    job = claim_job()
    if job is not None:
        run_job(job)
        return True
    return False


def _loop() -> None:
    while not _stop.is_set():
        close_old_connections()
        seen = generation()
        try:
            idle = 0.0 if work_once() else seconds_until_due()
        except Exception:  # noqa: BLE001 - one bad row must not stop every delivery; its lease lets it be retried
            logger.exception("sandbox delivery loop: one piece of work failed and will be retried")
            idle = IDLE_SECONDS
        if idle > 0 and not _stop.is_set():
            sleep(seen, idle)
    connection.close()


def start_delivery_threads(count: int | None = None) -> None:
    _stop.clear()
    for number in range(count or int(settings.SANDBOX_DELIVERY_THREADS)):
        thread = threading.Thread(target=_loop, name=f"sandbox-delivery-{number}", daemon=True)
        thread.start()
        _threads.append(thread)


def stop_delivery_threads() -> None:
    _stop.set()
    wake(len(_threads))
    for thread in _threads:
        thread.join(timeout=float(settings.SANDBOX_WEBHOOK_TIMEOUT_SECONDS) + 1)
    _threads.clear()
