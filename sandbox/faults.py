"""Armed faults: arm, list, clear, and take one use. A use is taken by a conditional UPDATE on the oldest armed row,
so concurrent requests (several processes) never take the same use twice and a rolled-back transaction gives it back."""

from __future__ import annotations

from django.conf import settings
from django.db.models import F, QuerySet

from sandbox.models import Fault

API_FAULTS = frozenset({Fault.Kind.API_ERROR, Fault.Kind.API_TIMEOUT})
# Faults that take a time (`delay_seconds`, gateway seconds, compressed by SANDBOX_TIME_SCALE) and its default; None
# means the sandbox's own setting (SANDBOX_AUTO_REFUND_SECONDS, SANDBOX_LATE_AUTH_SECONDS).
TIMED_FAULTS: dict[str, int | None] = {
    Fault.Kind.WEBHOOK_DELAY: 30,
    Fault.Kind.MANUAL_CAPTURE: None,  # the auto-refund window of the order's authorised payments
    Fault.Kind.LATE_AUTHORIZATION: None,  # how long after failing the payment is authorised
    Fault.Kind.ORDER_EXPIRY: 1,  # the order's life instead of its expireAfter
}
# An api_timeout holds the answer a little longer than the client waits, but never more than this.
MAX_HOLD_SECONDS = 60.0


def arm_fault(*, gateway: str, kind: str, count: int, delay_seconds: int | None = None) -> Fault:
    """Arm `kind` for the next `count` uses on `gateway`. Each arming is its own row; uses drain the oldest first."""
    if kind in TIMED_FAULTS and delay_seconds is None:
        delay_seconds = TIMED_FAULTS[kind]
    if kind not in TIMED_FAULTS:
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


def armed_kinds(*, gateway: str) -> frozenset[str]:
    """The kinds of fault with a use left on `gateway`, in one read: code that may take several kinds (a gateway
    call, a batch of webhooks) asks once and passes the answer to `take_fault` as `armed`."""
    return frozenset(Fault.objects.filter(gateway=gateway, remaining__gt=0).values_list("kind", flat=True))


def take_fault(*, gateway: str, kind: str, armed: frozenset[str] | None = None) -> Fault | None:
    """Take one use of an armed `kind` fault, or None when none is armed. Race-safe without a lock: the UPDATE only
    succeeds while the row still has a use left; on losing a race the next armed row is tried. Nothing armed costs
    one read and takes no write lock (every gateway call asks), and no read at all when `armed` (from
    `armed_kinds`) says that kind has no use left."""
    if armed is not None and kind not in armed:
        return None
    for fault in Fault.objects.filter(gateway=gateway, kind=kind, remaining__gt=0).order_by("armed_at", "pk"):
        if Fault.objects.filter(pk=fault.pk, remaining__gt=0).update(remaining=F("remaining") - 1):
            return fault
    return None


def hold_seconds() -> float:
    """How long an api_timeout holds its answer: SANDBOX_HOLD_SECONDS (past the merchant's client timeout), bounded."""
    return min(float(settings.SANDBOX_HOLD_SECONDS), MAX_HOLD_SECONDS)
