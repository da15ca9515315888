"""The gateways' signing recipes as the sandbox applies them (GATEWAYS.md 1.5, 1.6, 2.7). Lower-case hex throughout."""

from __future__ import annotations

import hashlib
import hmac


def razorpay_checkout_signature(*, key_secret: str, order_id: str, payment_id: str) -> str:
    """What Checkout hands the page: hex HMAC-SHA256(key_secret, "order_id|payment_id")."""
    return hmac.new(key_secret.encode(), f"{order_id}|{payment_id}".encode(), hashlib.sha256).hexdigest()


def razorpay_webhook_signature(*, webhook_secret: str, body: bytes) -> str:
    """X-Razorpay-Signature: hex HMAC-SHA256(webhook_secret, the raw body bytes exactly as sent)."""
    return hmac.new(webhook_secret.encode(), body, hashlib.sha256).hexdigest()


def phonepe_callback_authorization(*, username: str, password: str) -> str:
    """PhonePe's callback Authorization header: hex SHA256("username:password"), the same on every callback."""
    return hashlib.sha256(f"{username}:{password}".encode()).hexdigest()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
