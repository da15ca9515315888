"""PhonePe v2 payloads to payfirst's gateway-neutral dataclasses. States are mapped explicitly (an unknown one is a
GatewayRejected); callbacks are read leniently, as PhonePe asks: `event` and `payload.state`; `type` (the older
field) only when a callback carries no `event`."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from payfirst.core.money import CURRENCY, Paise
from payfirst.gateways.base import (
    AttemptStatus,
    EventKind,
    GatewayAttempt,
    GatewayEvent,
    GatewayPayment,
    GatewayRefund,
    GatewayRejected,
    GatewayStatus,
    RefundStatus,
)

ORDER_STATE: Mapping[str, GatewayStatus] = {
    "PENDING": GatewayStatus.PENDING,
    "COMPLETED": GatewayStatus.CAPTURED,
    "FAILED": GatewayStatus.FAILED,
    "EXPIRED": GatewayStatus.FAILED,  # the order ran out of time unpaid: no attempt can complete any more
}

# One attempt inside an order (`paymentDetails[].state`). A FAILED attempt does not end the order: PhonePe lets the
# customer try again inside it until the order itself completes, fails or expires.
ATTEMPT_STATE: Mapping[str, AttemptStatus] = {
    "PENDING": AttemptStatus.PENDING,
    "COMPLETED": AttemptStatus.CAPTURED,
    "FAILED": AttemptStatus.FAILED,
}

REFUND_STATE: Mapping[str, RefundStatus] = {
    "PENDING": RefundStatus.PENDING,
    "CONFIRMED": RefundStatus.PENDING,  # accepted by PhonePe, money not yet back with the customer
    "COMPLETED": RefundStatus.PROCESSED,
    "FAILED": RefundStatus.FAILED,
}

# Callback events by prefix: order and attempt events are hints about a payment, pg.refund.* about a refund.
_EVENT_KIND_BY_PREFIX: tuple[tuple[str, EventKind], ...] = (
    ("checkout.order.", EventKind.PAYMENT),
    ("checkout.transaction.", EventKind.PAYMENT),
    ("pg.order.", EventKind.PAYMENT),
    ("pg.transaction.", EventKind.PAYMENT),
    ("pg.refund.", EventKind.REFUND),
)


def order_state(body: Mapping[str, Any]) -> GatewayStatus:
    try:
        return ORDER_STATE[body.get("state")]  # type: ignore[index]
    except (KeyError, TypeError):
        raise GatewayRejected(f"Unknown PhonePe order state {body.get('state')!r}.") from None


def refund_state(body: Mapping[str, Any]) -> RefundStatus:
    try:
        return REFUND_STATE[body.get("state")]  # type: ignore[index]
    except (KeyError, TypeError):
        raise GatewayRejected(f"Unknown PhonePe refund state {body.get('state')!r}.") from None


def amount_of(body: Mapping[str, Any]) -> Paise:
    value = body.get("amount")
    if isinstance(value, bool) or not isinstance(value, int):
        raise GatewayRejected(f"PhonePe sent amount={value!r}; expected integer paise.")
    return Paise(value)


def _attempts(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    details = body.get("paymentDetails")
    if not isinstance(details, list):
        return []
    return [attempt for attempt in details if isinstance(attempt, Mapping)]


def _transaction_id(attempt: Mapping[str, Any] | None) -> str | None:
    value = attempt.get("transactionId") if attempt is not None else None
    return value if isinstance(value, str) and value else None


def attempt_id(body: Mapping[str, Any]) -> str | None:
    """The attempt that speaks for the order: the completed one, else the latest (by its epoch-ms timestamp)."""
    attempts = _attempts(body)
    completed = [a for a in attempts if a.get("state") == "COMPLETED"]
    if completed:
        return _transaction_id(completed[-1])
    if not attempts:
        return None

    def when(attempt: Mapping[str, Any]) -> int:
        stamp = attempt.get("timestamp")
        return stamp if isinstance(stamp, int) else 0

    return _transaction_id(max(attempts, key=when))


def attempts_from(body: Mapping[str, Any]) -> tuple[GatewayAttempt, ...]:
    """Every attempt the order lists. An attempt without a transaction id or amount, or in a state we do not know,
    is left out (PhonePe asks clients to read leniently); the order's own state still decides."""
    found: list[GatewayAttempt] = []
    for attempt in _attempts(body):
        transaction_id = _transaction_id(attempt)
        status = ATTEMPT_STATE.get(attempt.get("state"))  # type: ignore[arg-type]
        amount = attempt.get("amount")
        if transaction_id is None or status is None or isinstance(amount, bool) or not isinstance(amount, int):
            continue
        found.append(
            GatewayAttempt(
                gateway_payment_id=transaction_id,
                status=status,
                amount=Paise(amount),
                currency=CURRENCY,
                error_code=str(attempt.get("errorCode") or ""),
                error_description=str(attempt.get("detailedErrorCode") or ""),
                raw=dict(attempt),
            )
        )
    return tuple(found)


def payment_from(body: Mapping[str, Any], *, merchant_order_id: str) -> GatewayPayment:
    """An order-status answer (`details=true`). Our gateway order id is the merchantOrderId we sent."""
    echoed = body.get("merchantOrderId")
    if echoed is not None and echoed != merchant_order_id:
        raise GatewayRejected(f"PhonePe answered about order {echoed!r}, not {merchant_order_id!r}.")
    status = order_state(body)
    return GatewayPayment(
        gateway_order_id=merchant_order_id,
        gateway_payment_id=attempt_id(body),
        status=status,
        amount=amount_of(body),
        currency=CURRENCY,  # PhonePe settles in INR only and does not name a currency
        error_code=str(body.get("errorCode") or ""),
        error_description=str(body.get("detailedErrorCode") or ""),  # e.g. TXN_AUTO_FAILED, ZM
        raw=dict(body),
        attempts=attempts_from(body),
    )


def refund_from(body: Mapping[str, Any], *, merchant_refund_id: str) -> GatewayRefund:
    """A refund or refund-status answer. PhonePe keys refunds by our merchantRefundId, so that is the gateway id."""
    return GatewayRefund(
        gateway_refund_id=merchant_refund_id,
        reference=merchant_refund_id,
        status=refund_state(body),
        amount=amount_of(body),
        raw=dict(body),
    )


def event_kind(name: str) -> EventKind:
    for prefix, kind in _EVENT_KIND_BY_PREFIX:
        if name.startswith(prefix):
            return kind
    return EventKind.OTHER


def _text(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    return value if isinstance(value, str) and value else None


def event_id_for(*, name: str, subject: str | None, state: str, body: bytes) -> str:
    """PhonePe callbacks carry no event id. Event + order/refund + state names what happened, so redeliveries of it
    deduplicate while a later change (FAILED, then COMPLETED) is new; without a subject, the body digest."""
    if subject and state:
        return f"{name}:{subject}:{state}"
    return f"sha256:{hashlib.sha256(body).hexdigest()}"


def event_name(document: Mapping[str, Any]) -> str | None:
    """The callback's event name: `event` ("checkout.order.completed"), else the older `type`
    ("CHECKOUT_ORDER_COMPLETED"), which names the same event in upper snake case."""
    name = document.get("event")
    if isinstance(name, str) and name:
        return name
    kind = document.get("type")
    if isinstance(kind, str) and kind:
        return kind.strip().lower().replace("_", ".")
    return None


def event_from(document: Any, *, body: bytes) -> GatewayEvent:
    name = event_name(document) if isinstance(document, Mapping) else None
    if name is None:
        raise GatewayRejected("PhonePe callback has no event name (neither `event` nor `type`).")
    payload = document.get("payload")
    payload = payload if isinstance(payload, Mapping) else {}
    state = _text(payload, "state") or ""
    kind = event_kind(name)
    amount = payload.get("amount")
    amount = Paise(amount) if isinstance(amount, int) and not isinstance(amount, bool) else None

    if kind is EventKind.PAYMENT:
        order_id = _text(payload, "merchantOrderId")
        if not order_id:
            raise GatewayRejected(f"PhonePe {name} callback does not name its merchantOrderId.")
        return GatewayEvent(
            event_id=event_id_for(name=name, subject=order_id, state=state, body=body),
            kind=kind,
            name=name,
            gateway_order_id=order_id,
            gateway_payment_id=attempt_id(payload),
            gateway_refund_id=None,
            refund_reference=None,
            amount=amount,
            currency=CURRENCY if amount is not None else None,
            status=state,
            payload=dict(document),
        )
    if kind is EventKind.REFUND:
        refund_id = _text(payload, "merchantRefundId")
        if not refund_id:
            raise GatewayRejected(f"PhonePe {name} callback does not name its merchantRefundId.")
        return GatewayEvent(
            event_id=event_id_for(name=name, subject=refund_id, state=state, body=body),
            kind=kind,
            name=name,
            gateway_order_id=_text(payload, "originalMerchantOrderId") or "",
            gateway_payment_id=None,
            gateway_refund_id=refund_id,
            refund_reference=refund_id,
            amount=amount,
            currency=CURRENCY if amount is not None else None,
            status=state,
            payload=dict(document),
        )
    return GatewayEvent(
        event_id=event_id_for(name=name, subject=None, state=state, body=body),
        kind=EventKind.OTHER,
        name=name,
        gateway_order_id="",
        gateway_payment_id=None,
        gateway_refund_id=None,
        refund_reference=None,
        amount=None,
        currency=None,
        status=state,
        payload=dict(document),
    )
