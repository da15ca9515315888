"""Razorpay payloads to payfirst's gateway-neutral dataclasses. Every status is mapped explicitly; a status we have
never heard of is an error (GatewayRejected), never a guess."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from payfirst.core.money import Paise
from payfirst.gateways.base import (
    AttemptStatus,
    EventKind,
    GatewayAttempt,
    GatewayEvent,
    GatewayOrder,
    GatewayPayment,
    GatewayRefund,
    GatewayRejected,
    GatewayStatus,
    RefundStatus,
)

# A payment attempt's status. `refunded` depends on `captured`: a captured payment refunded since was money received;
# an authorisation Razorpay gave back uncaptured (manual capture not taken in time, a second payment on a paid order)
# never was. Only `captured: true` is money.
PAYMENT_STATUS: Mapping[str, AttemptStatus | None] = {
    "created": AttemptStatus.PENDING,
    "authorized": AttemptStatus.AUTHORIZED,  # money held, not ours until captured
    "captured": AttemptStatus.CAPTURED,
    "refunded": None,  # CAPTURED or RETURNED, by `captured`
    "failed": AttemptStatus.FAILED,  # the order stays payable: a retry or a late authorisation may follow
}

# What one attempt, alone on its order, says about the order's money.
_ORDER_BY_ATTEMPT: Mapping[AttemptStatus, GatewayStatus] = {
    AttemptStatus.PENDING: GatewayStatus.PENDING,
    AttemptStatus.AUTHORIZED: GatewayStatus.AUTHORIZED,
    AttemptStatus.CAPTURED: GatewayStatus.CAPTURED,
    AttemptStatus.FAILED: GatewayStatus.PENDING,  # a Razorpay order never fails: it stays payable
    AttemptStatus.RETURNED: GatewayStatus.PENDING,
}

ORDER_STATUS: Mapping[str, GatewayStatus] = {
    "created": GatewayStatus.PENDING,
    "attempted": GatewayStatus.PENDING,  # some attempt exists; the payments list says which
    "paid": GatewayStatus.CAPTURED,
}

REFUND_STATUS: Mapping[str, RefundStatus] = {
    "pending": RefundStatus.PENDING,
    "processed": RefundStatus.PROCESSED,
    "failed": RefundStatus.FAILED,
}

# Which attempt speaks for an order that has several: money received beats money held beats a fresh attempt
# beats a failure (a customer may fail once and pay on the same order). Among captured attempts the FIRST one that
# still holds its money speaks (a later one is a duplicate to refund, never "latest wins"); among authorized ones the
# first; among the rest the latest.
_ATTEMPT_RANK: Mapping[AttemptStatus, int] = {
    AttemptStatus.CAPTURED: 4,
    AttemptStatus.AUTHORIZED: 3,
    AttemptStatus.PENDING: 2,
    AttemptStatus.FAILED: 1,
    AttemptStatus.RETURNED: 1,
}

_EVENT_KIND_BY_PREFIX: Mapping[str, EventKind] = {
    "payment": EventKind.PAYMENT,
    "order": EventKind.PAYMENT,
    "refund": EventKind.REFUND,
}


def _lookup(table: Mapping[str, Any], value: Any, what: str) -> Any:
    try:
        return table[value]
    except (KeyError, TypeError):
        raise GatewayRejected(f"Unknown Razorpay {what} status {value!r}.") from None


def payment_status(entity: Mapping[str, Any]) -> AttemptStatus:
    """One attempt's status. Money is `captured: true` only: `refunded` without it was never captured."""
    status = _lookup(PAYMENT_STATUS, entity.get("status"), "payment")
    captured = entity.get("captured") is True
    if status is None:  # refunded
        return AttemptStatus.CAPTURED if captured else AttemptStatus.RETURNED
    if status is AttemptStatus.CAPTURED and entity.get("captured") is False:
        raise GatewayRejected(f"Razorpay payment {entity.get('id')!r} is 'captured' with captured=false.")
    return status


def order_status(entity: Mapping[str, Any]) -> GatewayStatus:
    return _lookup(ORDER_STATUS, entity.get("status"), "order")


def refund_status(entity: Mapping[str, Any]) -> RefundStatus:
    return _lookup(REFUND_STATUS, entity.get("status"), "refund")


def amount_of(entity: Mapping[str, Any], key: str = "amount") -> Paise:
    value = entity.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise GatewayRejected(f"Razorpay sent {key}={value!r}; expected integer paise.")
    return Paise(value)


def _text(entity: Mapping[str, Any], key: str) -> str:
    value = entity.get(key)
    if not isinstance(value, str) or not value:
        raise GatewayRejected(f"Razorpay payload has no {key!r}.")
    return value


def order_from(entity: Mapping[str, Any], *, checkout: Mapping[str, Any]) -> GatewayOrder:
    return GatewayOrder(
        gateway_order_id=_text(entity, "id"),
        amount=amount_of(entity),
        currency=_text(entity, "currency"),
        checkout=dict(checkout),
        raw=dict(entity),
    )


def _attempt_key(entity: Mapping[str, Any]) -> tuple[int, int, int]:
    """Sort key, highest speaks: rank; then, for money received, whether it still holds money (a captured attempt
    refunded in full no longer speaks while another holds); then time (earliest first for captured and authorized,
    latest first for the rest)."""
    status = payment_status(entity)
    created_at = entity.get("created_at")
    when = created_at if isinstance(created_at, int) else 0
    holds = 1
    if status is AttemptStatus.CAPTURED:
        refunded = entity.get("amount_refunded")
        holds = 0 if isinstance(refunded, int) and refunded >= amount_of(entity).value else 1
    earliest_first = status in (AttemptStatus.CAPTURED, AttemptStatus.AUTHORIZED)
    return (_ATTEMPT_RANK[status], holds, -when if earliest_first else when)


def best_attempt(items: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The attempt that speaks for the order (see _ATTEMPT_RANK). Unknown statuses raise, even on a losing attempt."""
    best: Mapping[str, Any] | None = None
    best_key: tuple[int, int, int] = (0, 0, 0)
    for entity in items:
        key = _attempt_key(entity)
        if best is None or key > best_key:
            best, best_key = entity, key
    return best


def attempt_from(entity: Mapping[str, Any]) -> GatewayAttempt:
    refunded = entity.get("amount_refunded")
    return GatewayAttempt(
        gateway_payment_id=_text(entity, "id"),
        status=payment_status(entity),
        amount=amount_of(entity),
        currency=_text(entity, "currency"),
        amount_refunded=Paise(refunded if isinstance(refunded, int) and not isinstance(refunded, bool) else 0),
        error_code=str(entity.get("error_code") or ""),
        error_description=str(entity.get("error_description") or ""),
        raw=dict(entity),
    )


def payment_from(entity: Mapping[str, Any], *, others: Iterable[Mapping[str, Any]] = ()) -> GatewayPayment:
    """The order's money as `entity` (the attempt that speaks for it) says, with every attempt listed: `others` are
    the order's remaining attempts."""
    attempt = attempt_from(entity)
    listed = [attempt, *(attempt_from(other) for other in others if other is not entity)]
    return GatewayPayment(
        gateway_order_id=_text(entity, "order_id"),
        gateway_payment_id=attempt.gateway_payment_id,
        status=_ORDER_BY_ATTEMPT[attempt.status],
        amount=attempt.amount,
        currency=attempt.currency,
        error_code=attempt.error_code,
        error_description=attempt.error_description,
        raw=dict(entity),
        attempts=tuple(listed),
    )


def unpaid_order_from(entity: Mapping[str, Any]) -> GatewayPayment:
    """An order with no payment attempts yet: pending, with the order's own amount."""
    status = order_status(entity)
    if status is GatewayStatus.CAPTURED:
        raise GatewayRejected(f"Razorpay order {entity.get('id')!r} is paid but lists no payments.")
    return GatewayPayment(
        gateway_order_id=_text(entity, "id"),
        gateway_payment_id=None,
        status=status,
        amount=amount_of(entity),
        currency=_text(entity, "currency"),
        raw=dict(entity),
    )


def refund_from(entity: Mapping[str, Any]) -> GatewayRefund:
    return GatewayRefund(
        gateway_refund_id=_text(entity, "id"),
        reference=str(entity.get("receipt") or ""),
        status=refund_status(entity),
        amount=amount_of(entity),
        raw=dict(entity),
    )


def _entity(payload: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    wrapper = payload.get(name)
    entity = wrapper.get("entity") if isinstance(wrapper, Mapping) else None
    return entity if isinstance(entity, Mapping) else None


def _optional_text(entity: Mapping[str, Any] | None, key: str) -> str | None:
    value = entity.get(key) if entity is not None else None
    return value if isinstance(value, str) and value else None


def event_kind(name: str) -> EventKind:
    return _EVENT_KIND_BY_PREFIX.get(name.split(".", 1)[0], EventKind.OTHER)


def event_from(envelope: Any, *, event_id: str) -> GatewayEvent:
    """A verified webhook envelope (`{"event", "payload": {"payment"|"order"|"refund": {"entity": ...}}}`) as a
    GatewayEvent. Payment and refund events must name their order/payment; anything else is kept as OTHER."""
    if not isinstance(envelope, Mapping) or not isinstance(envelope.get("event"), str):
        raise GatewayRejected("Razorpay webhook body is not an event envelope.")
    name: str = envelope["event"]
    payload = envelope.get("payload")
    payload = payload if isinstance(payload, Mapping) else {}
    kind = event_kind(name)
    if kind is EventKind.PAYMENT:
        return _payment_event(envelope, payload, event_id=event_id, name=name)
    if kind is EventKind.REFUND:
        return _refund_event(envelope, payload, event_id=event_id, name=name)
    return _other_event(envelope, event_id=event_id, name=name)


def _payment_event(
    envelope: Mapping[str, Any], payload: Mapping[str, Any], *, event_id: str, name: str
) -> GatewayEvent:
    """payment.* and order.*: the order named by the payment (or the order itself), amount and status as sent."""
    payment = _entity(payload, "payment")
    order = _entity(payload, "order")
    subject = payment or order
    if subject is None:
        raise GatewayRejected(f"Razorpay {name} webhook carries neither a payment nor an order.")
    order_id = _optional_text(payment, "order_id") or _optional_text(order, "id")
    if not order_id:
        raise GatewayRejected(f"Razorpay {name} webhook does not name its order.")
    return GatewayEvent(
        event_id=event_id,
        kind=EventKind.PAYMENT,
        name=name,
        gateway_order_id=order_id,
        gateway_payment_id=_optional_text(payment, "id"),
        gateway_refund_id=None,
        refund_reference=None,
        amount=amount_of(subject),
        currency=_optional_text(subject, "currency"),
        status=str(subject.get("status") or ""),
        payload=dict(envelope),
    )


def _refund_event(envelope: Mapping[str, Any], payload: Mapping[str, Any], *, event_id: str, name: str) -> GatewayEvent:
    """refund.*: the refund, its payment (from the refund, else the payment entity) and our receipt."""
    payment = _entity(payload, "payment")
    refund = _entity(payload, "refund")
    if refund is None:
        raise GatewayRejected(f"Razorpay {name} webhook carries no refund.")
    return GatewayEvent(
        event_id=event_id,
        kind=EventKind.REFUND,
        name=name,
        gateway_order_id=_optional_text(payment, "order_id") or "",
        gateway_payment_id=_optional_text(refund, "payment_id") or _optional_text(payment, "id"),
        gateway_refund_id=_text(refund, "id"),
        refund_reference=_optional_text(refund, "receipt"),
        amount=amount_of(refund),
        currency=_optional_text(refund, "currency"),
        status=str(refund.get("status") or ""),
        payload=dict(envelope),
    )


def _other_event(envelope: Mapping[str, Any], *, event_id: str, name: str) -> GatewayEvent:
    """Any other event: kept (and answered) but names nothing payfirst acts on."""
    return GatewayEvent(
        event_id=event_id,
        kind=EventKind.OTHER,
        name=name,
        gateway_order_id="",
        gateway_payment_id=None,
        gateway_refund_id=None,
        refund_reference=None,
        amount=None,
        currency=None,
        status="",
        payload=dict(envelope),
    )
