"""Identifiers in the gateways' own formats: Razorpay `order_`/`pay_`/`rfnd_` + 14 base62 characters, PhonePe
`OMO`/`OM`/`OMR` + a timestamp and random digits. Random from `secrets`, so they cannot be guessed."""

from __future__ import annotations

import secrets
import string

from django.utils import timezone

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def base62(length: int = 14) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


def razorpay_id(prefix: str) -> str:
    """`order_`, `pay_`, `rfnd_` ... followed by 14 base62 characters, as Razorpay writes them."""
    return f"{prefix}_{base62()}"


def razorpay_event_id() -> str:
    return base62()


def phonepe_id(prefix: str) -> str:
    """PhonePe ids such as OMO2403071446458436434329: a prefix, yyMMddHHmmss, then 10 random digits."""
    stamp = timezone.now().strftime("%y%m%d%H%M%S")
    return f"{prefix}{stamp}{secrets.randbelow(10**10):010d}"
