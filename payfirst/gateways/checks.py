"""System checks for going live: with PAYFIRST_GATEWAYS=live the server refuses to start (the checks run before
`manage.py` commands and, through config/wsgi.py's refuse_unsafe_configuration, before gunicorn serves anything)
until every gateway credential is set and
the URLs customers are sent to are real: PAYFIRST_PUBLIC_BASE_URL over https, FRONTEND_BASE_URL set."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, register

from payfirst.core.checks import TAG

# Every setting a live gateway needs, by gateway, with what it is for (the error message names each one).
LIVE_CREDENTIALS: dict[str, tuple[tuple[str, str], ...]] = {
    "razorpay": (
        ("RAZORPAY_KEY_ID", "the API key id (also Checkout's `key`)"),
        ("RAZORPAY_KEY_SECRET", "the API key secret"),
        ("RAZORPAY_WEBHOOK_SECRET", "the webhook signing secret"),
    ),
    "phonepe": (
        ("PHONEPE_CLIENT_ID", "the OAuth client id"),
        ("PHONEPE_CLIENT_SECRET", "the OAuth client secret"),
        ("PHONEPE_WEBHOOK_USERNAME", "the callback username"),
        ("PHONEPE_WEBHOOK_PASSWORD", "the callback password"),
    ),
}


def live_configuration_errors() -> list[Error]:
    """What stops payfirst from taking real money; empty outside live mode."""
    if getattr(settings, "PAYFIRST_GATEWAYS", "") != "live":
        return []
    errors: list[Error] = []
    for gateway, credentials in LIVE_CREDENTIALS.items():
        for name, purpose in credentials:
            if not str(getattr(settings, name, "") or "").strip():
                errors.append(
                    Error(
                        f"{name} is not set: live {gateway} needs {purpose}.",
                        hint=f"Set {name} in the environment (from the {gateway} dashboard).",
                        id="payfirst.E101",
                    )
                )
    public = str(getattr(settings, "PAYFIRST_PUBLIC_BASE_URL", "") or "")
    parts = urlsplit(public)
    if not public:
        errors.append(
            Error(
                "PAYFIRST_PUBLIC_BASE_URL is not set: PhonePe's return URL and Razorpay's callback_url are built "
                "from it, so customers would be sent nowhere.",
                hint="Set it to the public https address of this server, e.g. https://pay.example.com.",
                id="payfirst.E102",
            )
        )
    elif parts.scheme != "https" or not parts.netloc:
        errors.append(
            Error(
                f"PAYFIRST_PUBLIC_BASE_URL must be an https URL in live mode, not {public!r}: customers' browsers "
                "are sent there by the gateways.",
                hint="Use the public https address of this server, e.g. https://pay.example.com.",
                id="payfirst.E103",
            )
        )
    if not str(getattr(settings, "FRONTEND_BASE_URL", "") or "").strip():
        errors.append(
            Error(
                "FRONTEND_BASE_URL is not set: payments' return addresses are checked against it.",
                hint="Set it to the storefront's address, e.g. https://shop.example.com.",
                id="payfirst.E104",
            )
        )
    return errors


@register(TAG, Tags.security)  # TAG: config/wsgi.py runs these before gunicorn serves anything
def live_gateways_are_configured(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    return live_configuration_errors()
