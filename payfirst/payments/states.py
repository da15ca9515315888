"""Payment lifecycle: the statuses, the table of allowed moves and the one compare-and-set `transition()`.

Every status change in payfirst goes through `transition()`, which also appends the audit event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from payfirst.core.errors import InvalidState
from payfirst.payments.models import Payment
from payfirst.payments.statuses import EventSource, PaymentStatus

__all__ = [
    "ALLOWED",
    "CAPTURED_LIKE",
    "LATE_CAPTURE_FROM",
    "EventSource",
    "PaymentStatus",
    "can_transition",
    "transition",
]


S = PaymentStatus

# Statuses a late capture can arrive for: the money is received even though we stopped waiting for it.
LATE_CAPTURE_FROM: frozenset[str] = frozenset({S.FAILED, S.EXPIRED, S.CANCELLED, S.SUPERSEDED})

ALLOWED: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.CAPTURED, S.FAILED, S.EXPIRED, S.CANCELLED, S.SUPERSEDED, S.FLAGGED}),
    # A late capture is money received: it is fulfilled or refunded, or flagged when the amount is wrong.
    **{late: frozenset({S.CAPTURED, S.FLAGGED}) for late in LATE_CAPTURE_FROM},
    S.CAPTURED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.REFUNDED}),
    S.REFUNDED: frozenset(),
    # Staff act on FLAGGED payments by hand (refund through the refunds endpoint of issue 6).
    S.FLAGGED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
}

# Statuses whose money was captured (whatever has been refunded since).
CAPTURED_LIKE: frozenset[str] = frozenset({S.CAPTURED, S.PARTIALLY_REFUNDED, S.REFUNDED})


def can_transition(*, from_status: str, to_status: str) -> bool:
    return to_status in ALLOWED[from_status]


def transition(
    *,
    payment: Payment,
    to: str,
    source: str,
    detail: str = "",
    actor_id: int | None = None,
    payload: Mapping[str, Any] | None = None,
    fields: Mapping[str, Any] | None = None,
) -> bool:
    """Move `payment` to `to` once and append the audit event. False when it is already there (a replay).

    Compare-and-set on the status column, so two callers can never both make the same move. `fields` are
    written in the same UPDATE (e.g. captured_at). Raises InvalidState when the move is not in ALLOWED.
    """
    current = payment.status
    if current == to:
        return False
    if to not in ALLOWED[current]:
        raise InvalidState(f"Payment {payment.pk} cannot go from {current} to {to}.")
    changes = dict(fields or {})
    # type(payment) rather than an import: models.py imports this module for the status choices.
    updated = type(payment)._default_manager.filter(pk=payment.pk, status=current).update(status=to, **changes)
    if not updated:
        raise InvalidState(f"Payment {payment.pk} changed underneath this request; retry.")
    payment.events.create(
        from_status=current,
        to_status=to,
        source=source,
        actor_id=actor_id,
        detail=detail,
        payload=dict(payload or {}),
    )
    payment.status = to
    for name, value in changes.items():
        setattr(payment, name, value)
    return True
