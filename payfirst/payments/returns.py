"""The customer's two doors back from the gateway: Razorpay's checkout confirm (signed by the browser) and PhonePe's
redirect. Each asks the gateway through `sync_payment` and answers with the payment as it is now."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from payfirst.core.errors import GatewayFailed, NotFound
from payfirst.fulfilment.selectors import FulfilmentRef
from payfirst.gateways.base import GatewayError, SignatureInvalid
from payfirst.gateways.registry import get_gateway
from payfirst.payments import selectors
from payfirst.payments.capture import sync_payment
from payfirst.payments.errors import InvalidSignature
from payfirst.payments.models import Payment
from payfirst.payments.states import EventSource

logger = logging.getLogger("payfirst.payments")


@dataclass(frozen=True)
class Returned:
    """The payment after the door asked the gateway, its fulfilments, and the customer's view of the outcome."""

    payment: Payment
    fulfilments: dict[int, list[FulfilmentRef]]
    outcome: str


def _returned(payment: Payment) -> Returned:
    refs = selectors.fulfilments_of([payment])
    outcome = selectors.outcome_for_customer(payment=payment, is_fulfilled=bool(refs[payment.pk]))
    return Returned(payment=payment, fulfilments=refs, outcome=outcome)


def confirm_razorpay(*, user: Any, fields: Mapping[str, Any]) -> Returned:
    """Check the browser's checkout signature, then ask Razorpay about the user's payment for that order.

    InvalidSignature (400) for a bad signature (nothing changes), NotFound for an order that is not the user's,
    GatewayFailed (502) when Razorpay cannot answer."""
    try:
        get_gateway("razorpay").verify_client_signature(fields=fields)
    except SignatureInvalid:
        logger.warning(
            "razorpay checkout signature invalid; nothing changed",
            extra={"gateway_order_id": fields["razorpay_order_id"], "user_id": user.pk},
        )
        raise InvalidSignature() from None
    payment = selectors.payment_for_gateway_order(gateway="razorpay", gateway_order_id=fields["razorpay_order_id"])
    if payment is None or payment.user_id != user.pk:
        raise NotFound("Payment not found.")
    try:
        sync_payment(
            payment=payment,
            source=EventSource.CONFIRM,
            actor_id=user.pk,
            payload={"checkout": {"razorpay_payment_id": fields["razorpay_payment_id"]}},
        )
    except GatewayError as error:
        logger.warning("confirm could not reach the gateway", extra={"payment_id": payment.pk, "error": str(error)})
        raise GatewayFailed() from None
    return _returned(selectors.get_payment(user=user, payment_id=payment.pk))


def return_from_phonepe(*, payment_id: int) -> Returned:
    """Ask PhonePe about the payment the browser came back for. A gateway that cannot answer still gets the customer
    somewhere useful: the webhook, or the expiry's last check, settles it later."""
    payment = Payment.objects.select_related("cart").filter(pk=payment_id, gateway="phonepe").first()
    if payment is None:
        raise NotFound("Payment not found.")
    try:
        sync_payment(payment=payment, source=EventSource.REDIRECT)
    except GatewayError as error:
        logger.warning("phonepe status check on redirect failed", extra={"payment_id": payment.pk, "error": str(error)})
    return _returned(Payment.objects.select_related("cart").get(pk=payment.pk))
