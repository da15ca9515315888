"""Payment workflows, by module: `checkout` (create a payment from the cart), `capture` (learn the outcome from
the gateway, capture exactly once, fail), `expiry` (cancel, expire) and `reservations` (what a payment holds).
This module is their public face: callers use `payments.services.<name>`.

Never a transaction or row lock across a gateway call: record the intent and commit, call the gateway, then apply
the answer in a new short transaction. Lock order everywhere: cart row, payment row, variants by pk, slots by pk
(the cart first because both checkout and capture need it; paths that never touch the cart start at the payment).
"""

from __future__ import annotations

from payfirst.payments.capture import CAPTURED_LIKE, SyncOutcome, record_capture, record_failure, sync_payment
from payfirst.payments.checkout import (
    CreatedPayment,
    create_payment_for_cart,
    is_return_token_valid,
    phonepe_return_url,
    razorpay_callback_url,
    return_token,
)
from payfirst.payments.expiry import cancel_payment, expire_payment, expire_stale_payments
from payfirst.payments.inputs import address_snapshot, validate_redirect_url

__all__ = [
    "CAPTURED_LIKE",
    "CreatedPayment",
    "SyncOutcome",
    "address_snapshot",
    "cancel_payment",
    "create_payment_for_cart",
    "expire_payment",
    "expire_stale_payments",
    "is_return_token_valid",
    "phonepe_return_url",
    "razorpay_callback_url",
    "record_capture",
    "record_failure",
    "return_token",
    "sync_payment",
    "validate_redirect_url",
]
