"""What checkout is given, checked: the customer's own addresses (frozen as snapshots) and the redirect URL."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from payfirst.accounts.models import ADDRESS_FIELDS, Address, User
from payfirst.core.errors import NotFound
from payfirst.payments.errors import InvalidRedirectUrl


def _allowed_redirect_prefixes() -> list[tuple[str, str, str]]:
    """(scheme, host[:port], path prefix) a redirect_url may start with."""
    prefixes = []
    for base in [settings.FRONTEND_BASE_URL, *settings.CORS_ALLOWED_ORIGINS]:
        parts = urlsplit(base.strip())
        if parts.scheme in {"http", "https"} and parts.netloc:
            prefixes.append((parts.scheme, parts.netloc.lower(), parts.path.rstrip("/")))
    return prefixes


def validate_redirect_url(*, redirect_url: str) -> str:
    """The URL if it is under FRONTEND_BASE_URL or an allowed CORS origin (an open redirect otherwise)."""
    parts = urlsplit(redirect_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.username or parts.password:
        raise InvalidRedirectUrl()
    for scheme, netloc, path in _allowed_redirect_prefixes():
        if parts.scheme == scheme and parts.netloc.lower() == netloc:
            if not path or parts.path == path or parts.path.startswith(path + "/"):
                return redirect_url
    raise InvalidRedirectUrl()


def address_snapshot(address: Address) -> dict[str, Any]:
    """The Address API shape, frozen into the payment (and from there into the order)."""
    return {"id": address.pk, **{name: getattr(address, name) for name in ADDRESS_FIELDS}}


def own_addresses(*, user: User, ids: Iterable[int | None]) -> dict[int, dict[str, Any]]:
    """Snapshots of the user's own addresses by id; another user's address is NotFound like a missing one."""
    wanted = {pk for pk in ids if pk is not None}
    if not wanted:
        return {}
    found = {address.pk: address_snapshot(address) for address in Address.objects.filter(user=user, pk__in=wanted)}
    missing = wanted - found.keys()
    if missing:
        raise NotFound(f"Address {min(missing)} was not found.")
    return found
