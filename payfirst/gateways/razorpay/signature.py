"""Razorpay's two signature recipes: Checkout's `order_id|payment_id` HMAC with the key secret, and the webhook HMAC
over the raw body bytes with the webhook secret. Both compare in constant time and fail only with SignatureInvalid."""

from __future__ import annotations

import hashlib
import hmac

from payfirst.gateways.base import SignatureInvalid


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    """Lower-case hex HMAC-SHA256, the form Razorpay sends in both signatures."""
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def checkout_signature(*, key_secret: str, order_id: str, payment_id: str) -> str:
    return hmac_sha256_hex(key_secret, f"{order_id}|{payment_id}".encode())


def webhook_signature(*, webhook_secret: str, body: bytes) -> str:
    return hmac_sha256_hex(webhook_secret, body)


def _matches(expected: str, received: object) -> bool:
    # hmac.compare_digest raises TypeError on None or on a str with non-ASCII characters; such a header can only be
    # a forgery or a broken client, so it is simply not a match.
    if not isinstance(received, str) or not received or not received.isascii():
        return False
    return hmac.compare_digest(expected, received)


def verify_checkout_signature(*, key_secret: str, order_id: str, payment_id: str, signature: object) -> None:
    """Raise SignatureInvalid unless `signature` is Checkout's signature for this order and payment."""
    if not key_secret:
        raise SignatureInvalid("Razorpay key secret is not configured; checkout signatures cannot be verified.")
    if not order_id or not payment_id:
        raise SignatureInvalid("Checkout result is missing razorpay_order_id or razorpay_payment_id.")
    expected = checkout_signature(key_secret=key_secret, order_id=order_id, payment_id=payment_id)
    if not _matches(expected, signature):
        raise SignatureInvalid("Razorpay checkout signature does not match.")


def verify_webhook_signature(*, webhook_secret: str, body: bytes, signature: object) -> None:
    """Raise SignatureInvalid unless `signature` (X-Razorpay-Signature) signs exactly these bytes."""
    if not webhook_secret:
        # A missing secret fails on purpose: an unverifiable webhook must never be acted on.
        raise SignatureInvalid("Razorpay webhook secret is not configured; webhooks cannot be verified.")
    if not isinstance(body, bytes | bytearray):
        raise SignatureInvalid("Razorpay webhooks are verified on the raw body bytes.")
    expected = webhook_signature(webhook_secret=webhook_secret, body=bytes(body))
    if not _matches(expected, signature):
        raise SignatureInvalid("Razorpay webhook signature does not match.")
