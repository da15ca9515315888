"""The gateway boundary: one Protocol, gateway-neutral result types and a small error tree.

Payment code talks to Razorpay and PhonePe only through `Gateway`. Adapters never touch models;
they take and return the frozen dataclasses below and raise only `GatewayError` subclasses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from payfirst.core.money import Paise


class GatewayStatus(StrEnum):
    """What the gateway says about an order's money, collapsed to what payfirst acts on."""

    PENDING = "pending"  # no money yet: created, or every attempt so far failed (the order is still payable)
    AUTHORIZED = "authorized"  # an attempt holds the money; it is received only once captured (an explicit step)
    CAPTURED = "captured"  # money received (refunds are tracked on our Refund rows)
    FAILED = "failed"  # the ORDER itself failed or expired: no attempt on it can complete any more


class AttemptStatus(StrEnum):
    """One payment attempt inside a gateway order (Razorpay pay_..., PhonePe transactionId)."""

    PENDING = "pending"  # started, no answer yet
    AUTHORIZED = "authorized"  # money held for us; ours only once captured
    CAPTURED = "captured"  # money received (`captured: true`), whatever has been refunded since
    FAILED = "failed"  # this attempt failed; the order may still be paid by another (or by this one, late)
    RETURNED = "returned"  # authorised, never captured, given back by the gateway (Razorpay `refunded`, uncaptured)


class RefundStatus(StrEnum):
    PENDING = "pending"
    PROCESSED = "processed"
    FAILED = "failed"


class EventKind(StrEnum):
    """A webhook, reduced to what it is about. It is a hint: the status API gives the truth."""

    PAYMENT = "payment"  # payment.authorized / captured / failed, order.paid, checkout.order.*
    REFUND = "refund"  # refund.created / processed / failed, pg.refund.*
    OTHER = "other"  # anything else: stored and answered "ignored"


@dataclass(frozen=True)
class GatewayOrder:
    """A gateway order created for one payment; `checkout` is what the front end needs to pay it (never a secret)."""

    gateway_order_id: str
    amount: Paise
    currency: str
    checkout: Mapping[str, Any]
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class GatewayAttempt:
    """One attempt as the gateway reports it. `amount_refunded` is captured money the gateway has given back."""

    gateway_payment_id: str
    status: AttemptStatus
    amount: Paise
    currency: str
    amount_refunded: Paise = Paise(0)
    error_code: str = ""
    error_description: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class GatewayPayment:
    """The gateway's own word on an order's money. `gateway_payment_id`, `amount` and `currency` are those of the
    attempt that speaks for the order: the first captured one that still holds its money, else the authorized one,
    else the latest. `attempts` lists every attempt on the order, so that each can be accounted for."""

    gateway_order_id: str
    gateway_payment_id: str | None
    status: GatewayStatus
    amount: Paise
    currency: str
    error_code: str = ""
    error_description: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    attempts: tuple[GatewayAttempt, ...] = ()


@dataclass(frozen=True)
class GatewayRefund:
    gateway_refund_id: str  # Razorpay rfnd_...; PhonePe: the merchantRefundId we sent
    reference: str  # our own refund reference (Razorpay receipt, PhonePe merchantRefundId)
    status: RefundStatus
    amount: Paise
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class GatewayEvent:
    """A verified webhook, gateway-neutral. Fields a given event does not carry are empty/None."""

    event_id: str
    kind: EventKind
    name: str  # the gateway's own event name, e.g. "payment.captured", "checkout.order.completed"
    gateway_order_id: str
    gateway_payment_id: str | None
    gateway_refund_id: str | None
    refund_reference: str | None
    amount: Paise | None
    currency: str | None
    status: str  # the payload's status/state as the gateway wrote it; a hint only
    payload: Mapping[str, Any] = field(default_factory=dict, repr=False)


class GatewayError(Exception):
    """Anything that went wrong talking to a gateway. The message never holds a secret."""


class GatewayUnavailable(GatewayError):
    """Timeout, connection failure or a 5xx: the outcome is unknown; safe to retry with the same references."""


class GatewayRejected(GatewayError):
    """The gateway refused the request as invalid (a 4xx that is not about credentials)."""


class GatewayDeclined(GatewayRejected):
    """The gateway declined the operation itself (e.g. a refund on a payment it will not refund)."""


class GatewayAuthError(GatewayError):
    """Our credentials were refused: a configuration problem, not the customer's."""


class SignatureInvalid(GatewayError):
    """A checkout signature or webhook did not verify. Nothing may change because of it."""


class Gateway(Protocol):
    name: str

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
        """Open a gateway order for `amount` under our `reference` (unique per payment; the same reference twice
        must not open two orders where the gateway can prevent it). `first_opening` says no earlier attempt can have
        opened one under this reference (its payment was created by this request), so an adapter that looks for an
        earlier order before opening one may skip the look."""
        ...

    def fetch_payment(self, *, gateway_order_id: str) -> GatewayPayment:
        """Ask the gateway what happened to the order's money. Read-only: asking never moves money."""
        ...

    def capture(self, *, gateway_order_id: str, gateway_payment_id: str, amount: Paise) -> GatewayAttempt:
        """Capture an authorized attempt for exactly `amount`: the explicit step that takes held money. Capturing an
        attempt that is already captured answers it as captured. Raises GatewayRejected when the gateway refuses
        (e.g. the authorisation lapsed), and on gateways that capture by themselves."""
        ...

    def list_refunds(self, *, gateway_order_id: str, gateway_payment_id: str) -> list[GatewayRefund] | None:
        """Every refund the gateway holds for the attempt, wherever it was made (payfirst or the gateway's
        dashboard). None when the gateway cannot list them (its refund callbacks are then the only source)."""
        ...

    def verify_client_signature(self, *, fields: Mapping[str, str]) -> None:
        """Verify a browser-side result (Razorpay Checkout's handler fields). Raises SignatureInvalid."""
        ...

    def parse_webhook(self, *, headers: Mapping[str, str], body: bytes) -> GatewayEvent:
        """Verify the delivery on the raw bytes, then parse it. Raises SignatureInvalid, or GatewayRejected when
        the verified body is not understood."""
        ...

    def refund(self, *, gateway_order_id: str, gateway_payment_id: str, amount: Paise, reference: str) -> GatewayRefund:
        """Start a refund under our `reference`; sending the same reference again never refunds twice."""
        ...

    def fetch_refund(self, *, gateway_payment_id: str, gateway_refund_id: str, reference: str) -> GatewayRefund:
        """The refund's current status."""
        ...
