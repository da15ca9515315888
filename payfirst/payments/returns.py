"""The customer's doors back from the gateway: Razorpay's checkout confirm (signed, from the page), Razorpay's
redirect-mode callback (the same signature, form-POSTed by the browser) and PhonePe's redirect (a token payfirst put
in the return URL). Each asks the gateway through `sync_payment` and answers with the payment as it is now."""

from __future__ import annotations

import json
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
from payfirst.payments.checkout import is_return_token_valid
from payfirst.payments.errors import InvalidSignature
from payfirst.payments.models import Payment, PaymentEvent
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


def return_from_phonepe(*, payment_id: int, token: str) -> Returned:
    """Ask PhonePe about the payment the browser came back for. Without the return URL's token nothing is revealed,
    not even whether the payment exists (NotFound). A gateway that cannot answer still gets the customer somewhere
    useful: the webhook, or the expiry's last check, settles it later."""
    payment = Payment.objects.select_related("cart").filter(pk=payment_id, gateway="phonepe").first()
    if payment is None or not is_return_token_valid(payment=payment, token=token):
        raise NotFound("Payment not found.")
    try:
        sync_payment(payment=payment, source=EventSource.REDIRECT)
    except GatewayError as error:
        logger.warning("phonepe status check on redirect failed", extra={"payment_id": payment.pk, "error": str(error)})
    return _returned(Payment.objects.select_related("cart").get(pk=payment.pk))


# Checkout's error fields in its redirect-mode POST, as Razorpay names them; anything else is not kept.
_CHECKOUT_ERROR_FIELDS = ("code", "description", "source", "step", "reason")


def callback_from_razorpay(*, fields: Mapping[str, str]) -> Returned:
    """Razorpay Checkout's redirect mode: the browser form-POSTs the result to payfirst.

    A success carries Checkout's signature over order and payment id: verified (InvalidSignature otherwise, nothing
    changes), then the payment goes through the capture door. A failure carries `error[...]` fields and no signature:
    the failed attempt is written on the payment's timeline as what the browser reported (it proves nothing, so it
    moves nothing), and Razorpay is asked for the truth. NotFound when no payment has the order."""
    if fields.get("razorpay_signature"):
        try:
            get_gateway("razorpay").verify_client_signature(fields=fields)
        except SignatureInvalid:
            logger.warning(
                "razorpay callback signature invalid; nothing changed",
                extra={"gateway_order_id": fields.get("razorpay_order_id", "")[:64]},
            )
            raise InvalidSignature() from None
        payment = _razorpay_payment(fields.get("razorpay_order_id", ""))
        payload: dict[str, Any] = {"callback": {"razorpay_payment_id": fields.get("razorpay_payment_id", "")[:64]}}
    else:
        error = {name: fields.get(f"error[{name}]", "")[:255] for name in _CHECKOUT_ERROR_FIELDS}
        metadata = _metadata(fields.get("error[metadata]", ""))
        payment = _razorpay_payment(metadata.get("order_id", ""))
        PaymentEvent.objects.create(
            payment=payment,
            from_status=payment.status,
            to_status=payment.status,
            source=EventSource.CONFIRM,
            detail=(
                f"Checkout reported a failed attempt ({error['code'] or 'no code'}: {error['description'] or '-'}); "
                "reported by the browser, so it changes nothing by itself."
            ),
            payload={"checkout_error": error, "razorpay_payment_id": metadata.get("payment_id", "")},
        )
        payload = {"callback": {"checkout_error": error["code"]}}
    try:
        sync_payment(payment=payment, source=EventSource.CONFIRM, payload=payload)
    except GatewayError as error:
        logger.warning("callback could not reach the gateway", extra={"payment_id": payment.pk, "error": str(error)})
    return _returned(Payment.objects.select_related("cart").get(pk=payment.pk))


def _metadata(raw: str) -> dict[str, str]:
    """Checkout's `error[metadata]`: a JSON object naming the order and the payment attempt."""
    try:
        document = json.loads(raw[:2000]) if raw else {}
    except ValueError:
        return {}
    if not isinstance(document, dict):
        return {}
    return {key: str(document.get(key) or "")[:64] for key in ("order_id", "payment_id")}


def _razorpay_payment(gateway_order_id: str) -> Payment:
    payment = (
        selectors.payment_for_gateway_order(gateway="razorpay", gateway_order_id=gateway_order_id[:64])
        if gateway_order_id
        else None
    )
    if payment is None:
        raise NotFound("Payment not found.")
    return payment
