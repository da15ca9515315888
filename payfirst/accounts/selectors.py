"""Read queries for accounts: email availability and a user's own addresses (anyone else's is not found)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.http import HttpRequest
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request

from payfirst.accounts.models import Address, User, UserManager
from payfirst.core.errors import NotFound
from payfirst.core.models import MAX_ID


def signed_in_user(request: HttpRequest | Request) -> User:
    """The request's user as a User row. Behind IsAuthenticated (or the admin's staff check) it always is one; were a
    view left open by mistake, the anonymous caller gets the API's 401 rather than reaching a service."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user


def is_email_available(*, email: str) -> bool:
    """True when no account uses `email`, compared case-insensitively (the lower(email) index answers this)."""
    normalized = UserManager.normalize_email(email)
    return not User.objects.alias(email_ci=Lower("email")).filter(email_ci=normalized).exists()


def addresses_for_user(*, user: User) -> QuerySet[Address]:
    """The user's address book, the default first, then in the order they were added."""
    return Address.objects.filter(user=user).order_by("-is_default", "id")


def get_address(*, user: User, address_id: int, for_update: bool = False) -> Address:
    """One of the user's own addresses. Another user's address is `NotFound`, exactly like a missing one."""
    if not 0 < address_id <= MAX_ID:
        raise NotFound(f"Address {address_id} was not found.")
    queryset = Address.objects.filter(user=user)
    if for_update:
        queryset = queryset.select_for_update()
    try:
        return queryset.get(pk=address_id)
    except Address.DoesNotExist:
        raise NotFound(f"Address {address_id} was not found.") from None
