"""Where the browser goes after PhonePe's hosted page, once payfirst has asked PhonePe how the payment ended."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings


def phonepe_return_target(*, redirect_url: str, payment_id: int, outcome: str) -> str:
    """The payment's redirect_url with `?payment_id=&status=&redirect_source=phonepe` (seed 002's confirmbooking page
    reads `redirect_source`). A payment that went to the configured success page (PHONEPE_SUCCESS_REDIRECT_URL,
    what the seed endpoints use when the client sends no redirect_url) and failed goes to
    PHONEPE_FAILED_REDIRECT_URL instead."""
    target = redirect_url
    failed_page = settings.PHONEPE_FAILED_REDIRECT_URL
    if outcome == "failed" and failed_page and redirect_url == settings.PHONEPE_SUCCESS_REDIRECT_URL:
        target = failed_page
    return with_query(target, payment_id=str(payment_id), status=outcome, redirect_source="phonepe")


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key not in params]
    return urlunsplit(parts._replace(query=urlencode([*query, *params.items()])))
