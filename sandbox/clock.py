"""The sandbox's sense of time: every wait it imitates is divided by SANDBOX_TIME_SCALE, and later work is recorded as
a Job due at a moment, run by the delivery threads."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from sandbox.models import Job
from sandbox.wakeups import wake_on_commit


def scaled(seconds: float) -> timedelta:
    """A gateway's `seconds` of waiting, compressed by SANDBOX_TIME_SCALE."""
    return timedelta(seconds=seconds / max(float(settings.SANDBOX_TIME_SCALE), 1e-9))


def schedule(*, kind: str, subject: str, after: timedelta | None = None, at: datetime | None = None) -> Job:
    """Record work due `after` from now (or `at` a moment). Call inside the transaction that made it necessary."""
    run_at = at if at is not None else timezone.now() + (after or timedelta(0))
    job = Job.objects.create(kind=kind, subject=subject, run_at=run_at)
    wake_on_commit()
    return job


def later(seconds: float) -> datetime:
    return timezone.now() + scaled(seconds)
