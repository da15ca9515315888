"""PhonePe callback authentication: the `Authorization` header is the lower-case hex SHA256 of "username:password",
a static credential not bound to the body. Compared in constant time; a callback is only ever a hint."""

from __future__ import annotations

import hashlib
import hmac

from payfirst.gateways.base import SignatureInvalid


def callback_authorization(*, username: str, password: str) -> str:
    return hashlib.sha256(f"{username}:{password}".encode()).hexdigest()


def verify_callback(*, username: str, password: str, authorization: object) -> None:
    """Raise SignatureInvalid unless `authorization` is exactly the expected digest (PhonePe's own SDK also rejects a
    "SHA256 " prefix and upper-case hex)."""
    if not username or not password:
        # A missing credential fails on purpose: an unauthenticated callback must never be acted on.
        raise SignatureInvalid("PhonePe callback credentials are not configured; callbacks cannot be verified.")
    # compare_digest raises TypeError on None or non-ASCII text; either is simply a mismatch here.
    if not isinstance(authorization, str) or not authorization or not authorization.isascii():
        raise SignatureInvalid("PhonePe callback has no usable Authorization header.")
    if not hmac.compare_digest(callback_authorization(username=username, password=password), authorization):
        raise SignatureInvalid("PhonePe callback Authorization does not match.")
