"""Razorpay signatures: GATEWAYS.md's byte-exact vector, the webhook HMAC on raw bytes, every way a forgery fails."""

from __future__ import annotations

import hashlib
import hmac

import pytest
import razorpay

from payfirst.gateways.base import SignatureInvalid
from payfirst.gateways.razorpay import signature
from payfirst.gateways.tests.conftest import fixture_bytes

SDK_VECTOR = "b2335e3b0801106b84a7faff035df56ecffde06918c9ddd1f0fafbb37a51cc89"


def test_checkout_signature_matches_the_sdk_test_vector():
    assert (
        signature.checkout_signature(key_secret="key_secret", order_id="fake_order_id", payment_id="fake_payment_id")
        == SDK_VECTOR
    )


def test_verify_checkout_signature_accepts_the_vector():
    signature.verify_checkout_signature(
        key_secret="key_secret", order_id="fake_order_id", payment_id="fake_payment_id", signature=SDK_VECTOR
    )


@pytest.mark.parametrize(
    "order_id, payment_id, sig",
    [
        ("fake_order_id", "fake_payment_id", SDK_VECTOR[:-1] + "0"),  # one character changed
        ("fake_order_id", "fake_payment_id", SDK_VECTOR.upper()),  # Razorpay signs lower-case hex
        ("fake_order_id", "other_payment_id", SDK_VECTOR),  # signature of another payment
        ("fake_order_id", "fake_payment_id", None),  # missing
        ("fake_order_id", "fake_payment_id", ""),
        ("fake_order_id", "fake_payment_id", "é" * 64),  # non-ASCII would make compare_digest raise TypeError
        ("fake_order_id", "fake_payment_id", 12345),
        ("", "fake_payment_id", SDK_VECTOR),
    ],
)
def test_verify_checkout_signature_rejects(order_id, payment_id, sig):
    with pytest.raises(SignatureInvalid):
        signature.verify_checkout_signature(
            key_secret="key_secret", order_id=order_id, payment_id=payment_id, signature=sig
        )


def test_checkout_signature_with_the_webhook_secret_is_rejected():
    sig = signature.checkout_signature(key_secret="webhook_secret", order_id="o", payment_id="p")
    with pytest.raises(SignatureInvalid):
        signature.verify_checkout_signature(key_secret="key_secret", order_id="o", payment_id="p", signature=sig)


def test_webhook_signature_is_hmac_of_the_raw_bytes():
    body = fixture_bytes("razorpay/webhook_payment_captured.json")
    expected = hmac.new(b"whsec", body, hashlib.sha256).hexdigest()
    assert signature.webhook_signature(webhook_secret="whsec", body=body) == expected
    signature.verify_webhook_signature(webhook_secret="whsec", body=body, signature=expected)


def test_webhook_signature_agrees_with_the_official_sdk():
    body = fixture_bytes("razorpay/webhook_payment_captured.json")
    ours = signature.webhook_signature(webhook_secret="whsec", body=body)
    assert razorpay.Client(auth=("k", "s")).utility.verify_webhook_signature(body.decode(), ours, "whsec")


def test_webhook_one_changed_byte_is_rejected():
    body = fixture_bytes("razorpay/webhook_payment_captured.json")
    sig = signature.webhook_signature(webhook_secret="whsec", body=body)
    tampered = body.replace(b'"amount":50000', b'"amount":50001', 1)
    assert tampered != body and len(tampered) == len(body)
    with pytest.raises(SignatureInvalid):
        signature.verify_webhook_signature(webhook_secret="whsec", body=tampered, signature=sig)


def test_webhook_reserialised_body_is_rejected():
    import json

    body = fixture_bytes("razorpay/webhook_payment_captured.json")
    sig = signature.webhook_signature(webhook_secret="whsec", body=body)
    reserialised = json.dumps(json.loads(body)).encode()
    with pytest.raises(SignatureInvalid):
        signature.verify_webhook_signature(webhook_secret="whsec", body=reserialised, signature=sig)


@pytest.mark.parametrize("sig", [None, "", "not-hex-ü", "0" * 64])
def test_webhook_missing_or_garbage_header_is_rejected(sig):
    with pytest.raises(SignatureInvalid):
        signature.verify_webhook_signature(webhook_secret="whsec", body=b"{}", signature=sig)


def test_webhook_signed_with_another_secret_is_rejected():
    sig = signature.webhook_signature(webhook_secret="key_secret", body=b"{}")
    with pytest.raises(SignatureInvalid):
        signature.verify_webhook_signature(webhook_secret="whsec", body=b"{}", signature=sig)


def test_unconfigured_secrets_reject_everything():
    with pytest.raises(SignatureInvalid):
        signature.verify_webhook_signature(
            webhook_secret="", body=b"{}", signature=signature.webhook_signature(webhook_secret="", body=b"{}")
        )
    with pytest.raises(SignatureInvalid):
        signature.verify_checkout_signature(
            key_secret="",
            order_id="o",
            payment_id="p",
            signature=signature.checkout_signature(key_secret="", order_id="o", payment_id="p"),
        )
