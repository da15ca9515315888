"""The signing recipes against GATEWAYS.md's byte-exact test vectors (taken from the SDKs' own tests)."""

from __future__ import annotations

import hashlib
import hmac

from sandbox.signing import (
    phonepe_callback_authorization,
    razorpay_checkout_signature,
    razorpay_webhook_signature,
)


def test_razorpay_checkout_signature_vector():
    assert razorpay_checkout_signature(
        key_secret="key_secret", order_id="fake_order_id", payment_id="fake_payment_id"
    ) == ("b2335e3b0801106b84a7faff035df56ecffde06918c9ddd1f0fafbb37a51cc89")


def test_razorpay_webhook_signature_signs_the_exact_bytes():
    body = b'{"entity":"event","event":"payment.captured"}'
    assert (
        razorpay_webhook_signature(webhook_secret="whsec", body=body)
        == hmac.new(b"whsec", body, hashlib.sha256).hexdigest()
    )
    assert razorpay_webhook_signature(webhook_secret="whsec", body=body + b" ") != razorpay_webhook_signature(
        webhook_secret="whsec", body=body
    )


def test_phonepe_callback_authorization_vector():
    assert phonepe_callback_authorization(username="username", password="password") == (
        "bc842c31a9e54efe320d30d948be61291f3ceee4766e36ab25fa65243cd76e0e"
    )
