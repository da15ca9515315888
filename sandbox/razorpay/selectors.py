"""Razorpay reads: lookups that fail in Razorpay's words, and the order, payment, refund, collection and webhook
envelope shapes exactly as Razorpay's API renders them (GATEWAYS.md 1.2-1.6)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from sandbox.errors import RAZORPAY_NOT_FOUND, RazorpayApiError
from sandbox.ids import BASE62
from sandbox.models import RazorpayOrder, RazorpayPayment, RazorpayRefund


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def notes_out(notes: Any) -> Any:
    # Razorpay renders empty notes as [] (a PHP-ism in every sample) and filled notes as an object.
    return notes if notes else []


def get_order(*, order_id: str) -> RazorpayOrder:
    try:
        return RazorpayOrder.objects.get(pk=order_id)
    except RazorpayOrder.DoesNotExist:
        raise RazorpayApiError(RAZORPAY_NOT_FOUND) from None


def get_payment(*, payment_id: str) -> RazorpayPayment:
    try:
        return RazorpayPayment.objects.get(pk=payment_id)
    except RazorpayPayment.DoesNotExist:
        raise RazorpayApiError(RAZORPAY_NOT_FOUND) from None


def get_refund(*, refund_id: str, payment_id: str | None = None) -> RazorpayRefund:
    refunds = RazorpayRefund.objects.select_related("payment")
    if payment_id is not None:
        refunds = refunds.filter(payment_id=payment_id)
    try:
        return refunds.get(pk=refund_id)
    except RazorpayRefund.DoesNotExist:
        raise RazorpayApiError(RAZORPAY_NOT_FOUND) from None


def order_entity(order: RazorpayOrder) -> dict[str, Any]:
    return {
        "id": order.id,
        "entity": "order",
        "amount": order.amount,
        "amount_paid": order.amount_paid,
        "amount_due": order.amount - order.amount_paid,
        "currency": order.currency,
        "receipt": order.receipt,
        "offer_id": None,
        "status": order.status,
        "attempts": order.attempts,
        "notes": notes_out(order.notes),
        "created_at": epoch(order.created_at),
    }


def payment_entity(payment: RazorpayPayment) -> dict[str, Any]:
    if payment.amount_refunded == 0:
        refund_status = None
    elif payment.amount_refunded < payment.amount:
        refund_status = "partial"
    else:
        refund_status = "full"
    return {
        "id": payment.id,
        "entity": "payment",
        "amount": payment.amount,
        "currency": payment.currency,
        "status": payment.status,
        "order_id": payment.order_id,
        "invoice_id": None,
        "international": False,
        "method": payment.method,
        "amount_refunded": payment.amount_refunded,
        "refund_status": refund_status,
        "captured": payment.is_captured,
        "description": None,
        "card_id": None,
        "bank": None,
        "wallet": None,
        "vpa": payment.vpa,
        "email": payment.email,
        "contact": payment.contact,
        "notes": [],
        "fee": 0 if payment.is_captured else None,  # the sandbox charges no fee
        "tax": 0 if payment.is_captured else None,
        "error_code": payment.error_code or None,
        "error_description": payment.error_description or None,
        "error_source": payment.error_source or None,
        "error_step": payment.error_step or None,
        "error_reason": payment.error_reason or None,
        "acquirer_data": {"rrn": None, "upi_transaction_id": None},
        "created_at": epoch(payment.created_at),
    }


def refund_entity(refund: RazorpayRefund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "entity": "refund",
        "amount": refund.amount,
        "currency": refund.currency,
        "payment_id": refund.payment_id,
        "notes": notes_out(refund.notes),
        "receipt": refund.receipt,
        "acquirer_data": {"arn": None},
        "created_at": epoch(refund.created_at),
        "batch_id": None,
        "status": refund.status,
        "speed_processed": "normal",
        "speed_requested": refund.speed_requested,
    }


def collection(items: Iterable[dict[str, Any]]) -> dict[str, Any]:
    listed = list(items)
    return {"entity": "collection", "count": len(listed), "items": listed}


def page(queryset: QuerySet[Any], params: Any) -> QuerySet[Any]:
    """Razorpay's `count` (1-100, default 10) and `skip` query parameters."""
    count = _int_param(params, "count", default=10, low=1, high=100)
    skip = _int_param(params, "skip", default=0, low=0, high=10**9)
    return queryset[skip : skip + count]


def _int_param(params: Any, name: str, *, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise RazorpayApiError(
            f"The {name} must be an integer.", field=name, reason="input_validation_failed"
        ) from None
    if not low <= value <= high:
        raise RazorpayApiError(
            f"The {name} must be between {low} and {high}.", field=name, reason="input_validation_failed"
        )
    return value


def account_id() -> str:
    """A stable `acc_` id for the sandbox merchant, derived from the key id (not secret) so it never changes."""
    digest = int.from_bytes(hashlib.sha256(settings.RAZORPAY_KEY_ID.encode()).digest()[:12], "big")
    chars = []
    for _ in range(14):
        digest, index = divmod(digest, 62)
        chars.append(BASE62[index])
    return "acc_" + "".join(chars)


def envelope(event: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The webhook envelope: entity, account_id, event, contains (the payload's keys in order), payload, created_at."""
    return {
        "entity": "event",
        "account_id": account_id(),
        "event": event,
        "contains": list(payload),
        "payload": {name: {"entity": entity} for name, entity in payload.items()},
        "created_at": epoch(timezone.now()),
    }
