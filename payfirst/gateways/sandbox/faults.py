"""Armed faults: arm, list, clear, and take one use. A use is taken by a conditional UPDATE on the oldest armed row,
so concurrent requests (several processes) never take the same use twice and a rolled-back transaction gives it back."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet

from payfirst.gateways.sandbox.models import Fault

API_FAULTS = frozenset({Fault.Kind.API_ERROR, Fault.Kind.API_TIMEOUT})
DEFAULT_DELAY_SECONDS = 30
# An api_timeout holds the answer a little longer than the client waits, but never more than this.
MAX_HOLD_SECONDS = 60.0


def arm_fault(*, gateway: str, kind: str, count: int, delay_seconds: int | None = None) -> Fault:
    """Arm `kind` for the next `count` uses on `gateway`. Each arming is its own row; uses drain the oldest first."""
    if kind == Fault.Kind.WEBHOOK_DELAY and delay_seconds is None:
        delay_seconds = DEFAULT_DELAY_SECONDS
    if kind != Fault.Kind.WEBHOOK_DELAY:
        delay_seconds = None
    return Fault.objects.create(gateway=gateway, kind=kind, remaining=count, delay_seconds=delay_seconds)


def armed_faults(*, gateway: str | None = None) -> QuerySet[Fault]:
    faults = Fault.objects.filter(remaining__gt=0)
    if gateway:
        faults = faults.filter(gateway=gateway)
    return faults.order_by("armed_at", "pk")


def clear_faults(*, gateway: str | None = None) -> int:
    faults = Fault.objects.all()
    if gateway:
        faults = faults.filter(gateway=gateway)
    deleted, _ = faults.delete()
    return deleted


def take_fault(*, gateway: str, kind: str) -> Fault | None:
    """Take one use of an armed `kind` fault, or None when none is armed. Race-safe without a lock: the UPDATE only
    succeeds while the row still has a use left; on losing a race the next armed row is tried."""
    with transaction.atomic():
        for fault in Fault.objects.filter(gateway=gateway, kind=kind, remaining__gt=0).order_by("armed_at", "pk"):
            if Fault.objects.filter(pk=fault.pk, remaining__gt=0).update(remaining=F("remaining") - 1):
                return fault
    return None


def hold_seconds() -> float:
    """How long an api_timeout holds its answer: past the client's GATEWAY_TIMEOUT_SECONDS, bounded."""
    return min(float(settings.GATEWAY_TIMEOUT_SECONDS) + 1.0, MAX_HOLD_SECONDS)
