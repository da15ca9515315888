"""Razorpay payloads to payfirst's gateway-neutral dataclasses. Every status is mapped explicitly; a status we have
never heard of is an error (GatewayRejected), never a guess."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from payfirst.core.money import Paise
from payfirst.gateways.base import (
    EventKind,
    GatewayEvent,
    GatewayOrder,
    GatewayPayment,
    GatewayRefund,
    GatewayRejected,
    GatewayStatus,
    RefundStatus,
)

PAYMENT_STATUS: Mapping[str, GatewayStatus] = {
    "created": GatewayStatus.PENDING,
    "authorized": GatewayStatus.PENDING,  # money held, not ours until captured
    "captured": GatewayStatus.CAPTURED,
    "refunded": GatewayStatus.CAPTURED,  # it was captured; refunds are tracked on our Refund rows
    "failed": GatewayStatus.FAILED,
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
# beats a failure (a customer may fail once and pay on the same order).
_ATTEMPT_RANK: Mapping[str, int] = {"captured": 4, "refunded": 4, "authorized": 3, "created": 2, "failed": 1}

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


def payment_status(entity: Mapping[str, Any]) -> GatewayStatus:
    return _lookup(PAYMENT_STATUS, entity.get("status"), "payment")


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


def best_attempt(items: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The attempt that speaks for the order: highest rank, the latest among equals. Unknown statuses raise."""
    best: Mapping[str, Any] | None = None
    best_key: tuple[int, int] = (0, 0)
    for entity in items:
        payment_status(entity)  # an unknown status is an error even when another attempt would win
        created_at = entity.get("created_at")
        key = (_ATTEMPT_RANK[entity["status"]], created_at if isinstance(created_at, int) else 0)
        if best is None or key >= best_key:
            best, best_key = entity, key
    return best


def payment_from(entity: Mapping[str, Any]) -> GatewayPayment:
    return GatewayPayment(
        gateway_order_id=_text(entity, "order_id"),
        gateway_payment_id=_text(entity, "id"),
        status=payment_status(entity),
        amount=amount_of(entity),
        currency=_text(entity, "currency"),
        error_code=str(entity.get("error_code") or ""),
        error_description=str(entity.get("error_description") or ""),
        raw=dict(entity),
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
    payment = _entity(payload, "payment")
    order = _entity(payload, "order")
    refund = _entity(payload, "refund")
    kind = event_kind(name)

    if kind is EventKind.PAYMENT:
        subject = payment or order
        if subject is None:
            raise GatewayRejected(f"Razorpay {name} webhook carries neither a payment nor an order.")
        order_id = _optional_text(payment, "order_id") or _optional_text(order, "id")
        if not order_id:
            raise GatewayRejected(f"Razorpay {name} webhook does not name its order.")
        return GatewayEvent(
            event_id=event_id,
            kind=kind,
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
    if kind is EventKind.REFUND:
        if refund is None:
            raise GatewayRejected(f"Razorpay {name} webhook carries no refund.")
        return GatewayEvent(
            event_id=event_id,
            kind=kind,
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
