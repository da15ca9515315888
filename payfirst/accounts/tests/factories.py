"""Test data for accounts: addresses with believable Indian defaults."""

from __future__ import annotations

from typing import Any

from payfirst.accounts.models import Address, User


def address_payload(**overrides: Any) -> dict[str, Any]:
    """A valid Address request body; override any field."""
    payload: dict[str, Any] = {
        "full_name": "Asha Rao",
        "phone": "+919876543210",
        "address_line_1": "12, 4th Cross, Indiranagar",
        "address_line_2": "Near the metro station",
        "city": "Bengaluru",
        "state": "Karnataka",
        "postal_code": "560038",
    }
    payload.update(overrides)
    return payload


def make_address(*, user: User, **overrides: Any) -> Address:
    """Insert an address directly (no service), so a test controls `is_default` exactly."""
    fields = address_payload(**overrides)
    return Address.objects.create(user=user, **fields)
