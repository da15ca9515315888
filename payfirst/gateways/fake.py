"""FakeGateway: an in-memory Gateway for service tests, with knobs to settle orders, inject failures and count calls.

It signs and verifies exactly like a real gateway would (HMAC-SHA256 over the raw bytes), so the code under test
cannot tell it apart from an adapter; it never touches the network or a model.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from payfirst.core.money import CURRENCY, Paise
from payfirst.gateways.base import (
    AttemptStatus,
    EventKind,
    GatewayAttempt,
    GatewayError,
    GatewayEvent,
    GatewayOrder,
    GatewayPayment,
    GatewayRefund,
    GatewayRejected,
    GatewayStatus,
    RefundStatus,
    SignatureInvalid,
)

SIGNATURE_HEADER = "X-Fake-Signature"
EVENT_ID_HEADER = "X-Fake-Event-Id"


@dataclass
class FakeAttempt:
    gateway_payment_id: str
    status: AttemptStatus
    amount: Paise
    currency: str
    refunded: int = 0  # paise of this attempt's captured money given back
    error_code: str = ""


_ORDER_BY_ATTEMPT: Mapping[AttemptStatus, GatewayStatus] = {
    AttemptStatus.CAPTURED: GatewayStatus.CAPTURED,
    AttemptStatus.AUTHORIZED: GatewayStatus.AUTHORIZED,
}


@dataclass
class FakeOrder:
    gateway_order_id: str
    reference: str
    amount: Paise
    currency: str
    redirect_url: str | None
    status: GatewayStatus = GatewayStatus.PENDING
    gateway_payment_id: str | None = None
    paid_amount: Paise | None = None  # what the "gateway" says was paid; differs from `amount` to test mismatches
    paid_currency: str | None = None
    error_code: str = ""
    attempts: list[FakeAttempt] = field(default_factory=list)
    ended: bool = False  # the order itself failed or expired (PhonePe): GatewayStatus.FAILED whatever the attempts

    def speaking_attempt(self) -> FakeAttempt | None:
        """As the real adapters rank them: the first captured attempt still holding money, else the first captured,
        else the first authorized, else the latest."""
        for wanted in (AttemptStatus.CAPTURED, AttemptStatus.AUTHORIZED):
            found = [a for a in self.attempts if a.status is wanted]
            holding = [a for a in found if a.refunded < a.amount.value]
            if holding or found:
                return (holding or found)[0]
        return self.attempts[-1] if self.attempts else None

    def order_status(self) -> GatewayStatus:
        if self.ended:
            return GatewayStatus.FAILED
        speaking = self.speaking_attempt()
        return _ORDER_BY_ATTEMPT.get(speaking.status, GatewayStatus.PENDING) if speaking else GatewayStatus.PENDING


@dataclass
class FakeGateway:
    """Implements the Gateway Protocol in memory. Thread-safe: concurrency tests call it from many threads."""

    name: str = "razorpay"
    key_secret: str = field(default="fake-key-secret", repr=False)
    webhook_secret: str = field(default="fake-webhook-secret", repr=False)
    orders: dict[str, FakeOrder] = field(default_factory=dict)
    refunds: dict[str, GatewayRefund] = field(default_factory=dict)  # by our reference (or the id, made outside)
    refund_attempts: dict[str, str] = field(default_factory=dict)  # refund key -> the attempt it refunds
    calls: Counter[str] = field(default_factory=Counter)
    # Knobs: raise this error from the next N calls of an operation ("create_order", "fetch_payment", "refund").
    failures: dict[str, tuple[int, GatewayError]] = field(default_factory=dict)
    # Called at the start of an operation (with the operation's name), e.g. to block a thread or change the database
    # while "the gateway" is being called.
    on_call: Callable[[str], None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1), repr=False)

    # ---- knobs -------------------------------------------------------------------------------------------------
    def fail_next(self, operation: str, error: GatewayError, *, times: int = 1) -> None:
        self.failures[operation] = (times, error)

    def settle(
        self,
        gateway_order_id: str,
        status: GatewayStatus = GatewayStatus.CAPTURED,
        *,
        amount: int | None = None,
        currency: str | None = None,
        error_code: str = "",
    ) -> FakeOrder:
        """Decide what the customer did, as one attempt: captured (optionally for another amount/currency), held
        (AUTHORIZED, waiting for our capture), or FAILED — the order itself ended (as PhonePe's can)."""
        with self._lock:
            order = self.orders[gateway_order_id]
            order.gateway_payment_id = order.gateway_payment_id or f"fpay_{next(self._ids):06d}"
            order.paid_amount = Paise(amount) if amount is not None else order.amount
            order.paid_currency = currency or order.currency
            order.error_code = error_code
            attempt_status = {
                GatewayStatus.CAPTURED: AttemptStatus.CAPTURED,
                GatewayStatus.AUTHORIZED: AttemptStatus.AUTHORIZED,
                GatewayStatus.FAILED: AttemptStatus.FAILED,
            }.get(status, AttemptStatus.PENDING)
            order.attempts = [
                FakeAttempt(
                    gateway_payment_id=order.gateway_payment_id,
                    status=attempt_status,
                    amount=order.paid_amount,
                    currency=order.paid_currency,
                    error_code=error_code,
                )
            ]
            order.ended = status is GatewayStatus.FAILED
            order.status = order.order_status()
            return order

    def add_attempt(
        self, gateway_order_id: str, status: AttemptStatus, *, amount: int | None = None, error_code: str = ""
    ) -> str:
        """One more attempt on the order (a retry, a late authorisation, a duplicate payment); returns its id."""
        with self._lock:
            order = self.orders[gateway_order_id]
            attempt = FakeAttempt(
                gateway_payment_id=f"fpay_{next(self._ids):06d}",
                status=status,
                amount=Paise(amount) if amount is not None else order.amount,
                currency=order.currency,
                error_code=error_code,
            )
            order.attempts.append(attempt)
            order.status = order.order_status()
            return attempt.gateway_payment_id

    def set_attempt(self, gateway_order_id: str, gateway_payment_id: str, status: AttemptStatus) -> None:
        """The gateway moves an attempt on by itself (a failed one authorised late, a lapsed one returned)."""
        with self._lock:
            order = self.orders[gateway_order_id]
            next(a for a in order.attempts if a.gateway_payment_id == gateway_payment_id).status = status
            order.status = order.order_status()

    def end_order(self, gateway_order_id: str) -> None:
        """The order itself fails or expires at the gateway (PhonePe)."""
        with self._lock:
            order = self.orders[gateway_order_id]
            order.ended = True
            order.status = order.order_status()

    def refund_outside(
        self, gateway_order_id: str, amount: int, *, status: RefundStatus = RefundStatus.PROCESSED
    ) -> GatewayRefund:
        """A refund made in the gateway's dashboard, not by payfirst: it has the gateway's id and no reference of
        ours."""
        with self._lock:
            order = self.orders[gateway_order_id]
            attempt = order.speaking_attempt()
            assert attempt is not None and attempt.status is AttemptStatus.CAPTURED
            refund = GatewayRefund(
                gateway_refund_id=f"frfnd_{next(self._ids):06d}", reference="", status=status, amount=Paise(amount)
            )
            self.refunds[refund.gateway_refund_id] = refund
            self.refund_attempts[refund.gateway_refund_id] = attempt.gateway_payment_id
            if status is RefundStatus.PROCESSED:
                attempt.refunded += amount
            return refund

    def order_for(self, reference: str) -> FakeOrder:
        return next(order for order in self.orders.values() if order.reference == reference)

    def sign_checkout(self, *, order_id: str, payment_id: str) -> str:
        return hmac.new(self.key_secret.encode(), f"{order_id}|{payment_id}".encode(), hashlib.sha256).hexdigest()

    def checkout_fields(self, gateway_order_id: str) -> dict[str, str]:
        """What a browser checkout would hand the front end after paying the (settled) order."""
        order = self.orders[gateway_order_id]
        payment_id = order.gateway_payment_id or ""
        return {
            "razorpay_order_id": gateway_order_id,
            "razorpay_payment_id": payment_id,
            "razorpay_signature": self.sign_checkout(order_id=gateway_order_id, payment_id=payment_id),
        }

    def webhook(
        self,
        *,
        event_id: str,
        name: str,
        gateway_order_id: str = "",
        kind: EventKind = EventKind.PAYMENT,
        extra: Mapping[str, Any] | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """A signed delivery (headers, raw body) as the gateway would send it."""
        body = json.dumps(
            {"event": name, "kind": str(kind), "order_id": gateway_order_id, **(extra or {})}, sort_keys=True
        ).encode()
        signature = hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        return {SIGNATURE_HEADER: signature, EVENT_ID_HEADER: event_id, "Content-Type": "application/json"}, body

    # ---- the Gateway Protocol ----------------------------------------------------------------------------------
    def _enter(self, operation: str) -> None:
        if self.on_call is not None:
            self.on_call(operation)
        with self._lock:
            self.calls[operation] += 1
            times, error = self.failures.get(operation, (0, None))
            if times and error is not None:
                if times == 1:
                    del self.failures[operation]
                else:
                    self.failures[operation] = (times - 1, error)
                raise error

    def create_order(
        self,
        *,
        reference: str,
        amount: Paise,
        redirect_url: str | None,
        customer: Mapping[str, str],
        description: str,
        first_opening: bool = False,
    ) -> GatewayOrder:
        self._enter("create_order")
        with self._lock:
            if self.name == "phonepe" and any(order.reference == reference for order in self.orders.values()):
                # PhonePe refuses a second order with a merchantOrderId it has seen (the sandbox does too).
                raise GatewayRejected(f"An order with merchantOrderId {reference} already exists.")
            order_id = f"forder_{next(self._ids):06d}"
            self.orders[order_id] = FakeOrder(
                gateway_order_id=order_id,
                reference=reference,
                amount=amount,
                currency=CURRENCY,
                redirect_url=redirect_url,
            )
        checkout: dict[str, Any] = {"order_id": order_id, "amount": amount.value, "currency": CURRENCY}
        if self.name == "phonepe":
            checkout = {"redirect_url": f"https://fake-gateway.invalid/pay/{order_id}/"}
        return GatewayOrder(gateway_order_id=order_id, amount=amount, currency=CURRENCY, checkout=checkout)

    def fetch_payment(self, *, gateway_order_id: str) -> GatewayPayment:
        self._enter("fetch_payment")
        with self._lock:
            order = self.orders.get(gateway_order_id)
            if order is None:
                raise GatewayRejected(f"No fake order {gateway_order_id}.")
            speaking = order.speaking_attempt()
            attempts = tuple(
                GatewayAttempt(
                    gateway_payment_id=a.gateway_payment_id,
                    status=a.status,
                    amount=a.amount,
                    currency=a.currency,
                    amount_refunded=Paise(a.refunded),
                    error_code=a.error_code,
                )
                for a in order.attempts
            )
            status = order.order_status()
            return GatewayPayment(
                gateway_order_id=gateway_order_id,
                gateway_payment_id=speaking.gateway_payment_id if speaking else None,
                status=status,
                amount=speaking.amount if speaking else order.amount,
                currency=speaking.currency if speaking else order.currency,
                error_code=speaking.error_code if speaking else "",
                raw={"order_id": gateway_order_id, "status": str(status)},
                attempts=attempts,
            )

    def capture(self, *, gateway_order_id: str, gateway_payment_id: str, amount: Paise) -> GatewayAttempt:
        self._enter("capture")
        with self._lock:
            order = self.orders[gateway_order_id]
            attempt = next((a for a in order.attempts if a.gateway_payment_id == gateway_payment_id), None)
            if attempt is None or attempt.status not in (AttemptStatus.AUTHORIZED, AttemptStatus.CAPTURED):
                raise GatewayRejected(f"Fake payment {gateway_payment_id} is not authorized.")
            if attempt.amount != amount:
                raise GatewayRejected(f"Fake payment {gateway_payment_id} is for {attempt.amount.value}.")
            attempt.status = AttemptStatus.CAPTURED
            order.status = order.order_status()
            return GatewayAttempt(
                gateway_payment_id=attempt.gateway_payment_id,
                status=attempt.status,
                amount=attempt.amount,
                currency=attempt.currency,
            )

    def list_refunds(self, *, gateway_order_id: str, gateway_payment_id: str) -> list[GatewayRefund] | None:
        self._enter("list_refunds")
        if self.name == "phonepe":
            return None  # as PhonePe: no listing, refund callbacks only
        with self._lock:
            return [
                refund for key, refund in self.refunds.items() if self.refund_attempts.get(key) == gateway_payment_id
            ]

    def verify_client_signature(self, *, fields: Mapping[str, str]) -> None:
        self._enter("verify_client_signature")
        expected = self.sign_checkout(
            order_id=str(fields.get("razorpay_order_id") or ""), payment_id=str(fields.get("razorpay_payment_id") or "")
        )
        given = fields.get("razorpay_signature")
        if not isinstance(given, str) or not given.isascii() or not hmac.compare_digest(expected, given):
            raise SignatureInvalid("Fake checkout signature does not match.")

    def parse_webhook(self, *, headers: Mapping[str, str], body: bytes) -> GatewayEvent:
        self._enter("parse_webhook")
        lowered = {key.lower(): value for key, value in headers.items()}
        given = lowered.get(SIGNATURE_HEADER.lower())
        expected = hmac.new(self.webhook_secret.encode(), bytes(body), hashlib.sha256).hexdigest()
        if not isinstance(given, str) or not given.isascii() or not hmac.compare_digest(expected, given):
            raise SignatureInvalid("Fake webhook signature does not match.")
        try:
            document = json.loads(bytes(body).decode())
        except (UnicodeDecodeError, ValueError):
            raise GatewayRejected("Fake webhook body is not JSON.") from None
        return GatewayEvent(
            event_id=lowered.get(EVENT_ID_HEADER.lower()) or hashlib.sha256(body).hexdigest(),
            kind=EventKind(document.get("kind", "other")),
            name=str(document.get("event", "")),
            gateway_order_id=str(document.get("order_id", "")),
            gateway_payment_id=document.get("payment_id"),
            gateway_refund_id=document.get("refund_id"),
            refund_reference=document.get("refund_reference"),
            amount=Paise(document["amount"]) if "amount" in document else None,
            currency=document.get("currency"),
            status=str(document.get("status", "")),
            payload=document,
        )

    def refund(self, *, gateway_order_id: str, gateway_payment_id: str, amount: Paise, reference: str) -> GatewayRefund:
        self._enter("refund")
        with self._lock:
            existing = self.refunds.get(reference)
            if existing is not None:  # the same reference never refunds twice
                return existing
            refund = GatewayRefund(
                gateway_refund_id=f"frfnd_{next(self._ids):06d}",
                reference=reference,
                status=RefundStatus.PROCESSED,
                amount=amount,
            )
            self.refunds[reference] = refund
            self.refund_attempts[reference] = gateway_payment_id
            for order in self.orders.values():
                for attempt in order.attempts:
                    if attempt.gateway_payment_id == gateway_payment_id:
                        attempt.refunded += amount.value
            return refund

    def fetch_refund(self, *, gateway_payment_id: str, gateway_refund_id: str, reference: str) -> GatewayRefund:
        self._enter("fetch_refund")
        with self._lock:
            refund = self.refunds.get(reference) or self.refunds.get(gateway_refund_id)
            if refund is None:
                refund = next((r for r in self.refunds.values() if r.gateway_refund_id == gateway_refund_id), None)
            if refund is None:
                raise GatewayRejected(f"No fake refund {reference or gateway_refund_id}.")
            return refund
