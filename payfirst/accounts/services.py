"""Account changes: sign-up, profile edits and the address book with its one default address per user.

The database has the last word on both invariants: a unique index on lower(email), and a partial unique index
allowing one `is_default` address per user. The code below keeps to them; the indexes stop any race that slips by.
"""

from __future__ import annotations

from typing import TypedDict

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model

from payfirst.accounts.errors import EmailTaken
from payfirst.accounts.models import Address, User, UserManager
from payfirst.accounts.selectors import MAX_ID, get_address, is_email_available
from payfirst.core.errors import InvalidInput, NotFound


class AddressChanges(TypedDict, total=False):
    """The fields of an address a PATCH may change; a key that is absent stays as it is."""

    full_name: str
    phone: str
    address_line_1: str
    address_line_2: str
    city: str
    state: str
    postal_code: str
    country: str
    gstin: str
    is_default: bool


def _clean(instance: Model, *, exclude: list[str] | None = None) -> None:
    """Run the model's field validators (PIN, phone, lengths) so a service is safe whoever calls it."""
    try:
        # Uniqueness and constraints are left to the database, which decides them race-free at write time.
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        fields = error.message_dict if hasattr(error, "error_dict") else {"non_field_errors": error.messages}
        raise InvalidInput(fields=fields) from None


def register_user(*, email: str, password: str, full_name: str, phone: str = "") -> User:
    """Create an account. The password goes through Django's validators; a taken email (in any case) is refused."""
    user = User(email=UserManager.normalize_email(email), full_name=full_name, phone=phone)
    _clean(user, exclude=["password"])
    try:
        validate_password(password, user=user)
    except ValidationError as error:
        raise InvalidInput(fields={"password": list(error.messages)}) from None
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save(force_insert=True)
    except IntegrityError:
        # The email indexes are the only unique ones on User; confirm that is what fired before saying so.
        if not is_email_available(email=user.email):
            raise EmailTaken() from None
        raise
    return user


def update_profile(*, user: User, full_name: str | None = None, phone: str | None = None) -> User:
    """Change the user's name and phone; None leaves a field as it is. The email is not changed here."""
    changed = [name for name, value in (("full_name", full_name), ("phone", phone)) if value is not None]
    if full_name is not None:
        user.full_name = full_name
    if phone is not None:
        user.phone = phone
    if changed:
        _clean(user, exclude=["password", "email"])
        user.save(update_fields=changed)
    return user


def _lock_address_book(*, user_id: int) -> None:
    """Serialise changes to one user's address book on the user row, so "clear the other defaults, then set this
    one" and "is this the first address?" are decided by one writer at a time."""
    list(User.objects.select_for_update().filter(pk=user_id).values_list("pk", flat=True))


def _make_sole_default(*, address: Address) -> None:
    Address.objects.filter(user_id=address.user_id, is_default=True).exclude(pk=address.pk).update(is_default=False)


def create_address(
    *,
    user: User,
    full_name: str,
    phone: str,
    address_line_1: str,
    city: str,
    state: str,
    postal_code: str,
    address_line_2: str = "",
    country: str = "India",
    gstin: str = "",
    is_default: bool | None = None,
) -> Address:
    """Add an address. `is_default=None` makes it the default only if it is the user's first address."""
    address = Address(
        user=user,
        full_name=full_name,
        phone=phone,
        address_line_1=address_line_1,
        address_line_2=address_line_2,
        city=city,
        state=state,
        postal_code=postal_code,
        country=country,
        gstin=gstin,
        is_default=bool(is_default),
    )
    _clean(address)
    with transaction.atomic():
        _lock_address_book(user_id=user.pk)
        if is_default is None:
            address.is_default = not Address.objects.filter(user=user).exists()
        if address.is_default:
            _make_sole_default(address=address)
        address.save(force_insert=True)
    return address


def update_address(*, user: User, address_id: int, changes: AddressChanges) -> Address:
    """Change some fields of one of the user's addresses; setting `is_default` clears it on their others."""
    with transaction.atomic():
        _lock_address_book(user_id=user.pk)
        address = get_address(user=user, address_id=address_id, for_update=True)
        for name, value in changes.items():
            setattr(address, name, value)
        _clean(address)
        if address.is_default:
            _make_sole_default(address=address)
        address.save(update_fields=[*changes, "updated_at"])
    return address


def save_address(*, address: Address) -> Address:
    """Save an address built elsewhere (the admin), keeping the one-default rule: a default clears the others."""
    _clean(address)
    with transaction.atomic():
        _lock_address_book(user_id=address.user_id)
        if address.is_default:
            _make_sole_default(address=address)
        address.save()
    return address


def delete_address(*, user: User, address_id: int) -> None:
    """Delete one of the user's addresses. Deleting the default leaves the user with none until they pick one."""
    deleted = 0
    if 0 < address_id <= MAX_ID:
        deleted, _ = Address.objects.filter(user=user, pk=address_id).delete()
    if not deleted:
        raise NotFound(f"Address {address_id} was not found.")
