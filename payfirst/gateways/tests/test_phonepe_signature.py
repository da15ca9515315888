"""PhonePe callback authentication: SHA256("username:password") as bare lower-case hex, compared in constant time."""

from __future__ import annotations

import pytest

from payfirst.gateways.base import SignatureInvalid
from payfirst.gateways.phonepe import signature

VECTOR = "bc842c31a9e54efe320d30d948be61291f3ceee4766e36ab25fa65243cd76e0e"


def test_callback_authorization_matches_the_vector():
    assert signature.callback_authorization(username="username", password="password") == VECTOR


def test_verify_callback_accepts_the_vector():
    signature.verify_callback(username="username", password="password", authorization=VECTOR)


@pytest.mark.parametrize(
    "header",
    [
        VECTOR.upper(),  # PhonePe's SDK compares exactly; upper-case hex is refused
        f"SHA256 {VECTOR}",
        f"SHA256({VECTOR})",
        VECTOR[:-1] + "f",
        None,
        "",
        "ü" * 64,
        signature.callback_authorization(username="username", password="passwort"),
    ],
)
def test_verify_callback_rejects(header):
    with pytest.raises(SignatureInvalid):
        signature.verify_callback(username="username", password="password", authorization=header)


def test_unconfigured_credentials_reject_everything():
    empty = signature.callback_authorization(username="", password="")
    with pytest.raises(SignatureInvalid):
        signature.verify_callback(username="", password="", authorization=empty)
