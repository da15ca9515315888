"""Read queries for the cart: the user's one ACTIVE cart (created on first use), its lines with their catalog rows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from payfirst.cart.models import Cart, CartItem, CartStatus
from payfirst.core.errors import NotFound
from payfirst.core.models import MAX_ID

# A create can lose to a concurrent first request (the partial unique constraint refuses the second ACTIVE
# cart) or, in theory, to a colliding random cart_id; either way reading again settles it within a few tries.
_CREATE_ATTEMPTS = 3


def get_active_cart(*, user: Any) -> Cart:
    """The user's ACTIVE cart, created on first use. Race-safe: `one_active_cart_per_user` decides, not Python.

    A CONVERTED or ABANDONED cart is never returned: the next call after a conversion gets a fresh, empty cart.
    """
    for _ in range(_CREATE_ATTEMPTS):
        cart = Cart.objects.filter(user=user, status=CartStatus.ACTIVE).first()
        if cart is not None:
            return cart
        try:
            # A savepoint, so that losing the race does not break a caller's surrounding transaction.
            with transaction.atomic():
                return Cart.objects.create(user=user, status=CartStatus.ACTIVE)
        except IntegrityError:
            continue
    return Cart.objects.get(user=user, status=CartStatus.ACTIVE)


def cart_items_for_pricing(*, cart: Cart) -> QuerySet[CartItem]:
    """Every line of the cart with the catalog rows that price and describe it, in one query."""
    return (
        CartItem.objects.filter(cart=cart)
        .select_related("variant__product", "package__service", "slot", "plan")
        .order_by("id")
    )


@dataclass(frozen=True)
class OwnHolds:
    """Stock units (by variant id) and slot places (by slot id) that the cart's own pending payment holds."""

    units: Counter[int] = field(default_factory=Counter)
    places: Counter[int] = field(default_factory=Counter)


def own_holds(*, cart: Cart) -> OwnHolds:
    """What this cart's own PENDING payment has reserved, in one query.

    A customer who leaves the gateway page and comes back to change the cart must not be told that their own
    reservation is someone else's: a new checkout supersedes that payment and gives its reservation back first.
    """
    units: Counter[int] = Counter()
    places: Counter[int] = Counter()
    rows = cart.payments.filter(status="PENDING", reservation="HELD").values_list(
        "lines__variant_id", "lines__slot_id", "lines__quantity"
    )
    for variant_id, slot_id, quantity in rows:
        if variant_id is not None:
            units[variant_id] += quantity
        if slot_id is not None:
            places[slot_id] += quantity
    return OwnHolds(units=units, places=places)


def own_cart_by_reference(*, user: Any, reference: Any) -> Cart:
    """One of the user's carts by its public `cart_id` ("CART_…") or its numeric `id` (the seeds send either).

    Another user's cart, or anything that is not a cart reference, is NotFound exactly like a missing one.
    """
    text = str(reference).strip() if isinstance(reference, (str, int)) and not isinstance(reference, bool) else ""
    cart = None
    if text.isdigit() and text.isascii():
        number = int(text)
        if 0 < number <= MAX_ID:
            cart = Cart.objects.filter(user=user, pk=number).first()
    elif 0 < len(text) <= 40:
        cart = Cart.objects.filter(user=user, cart_id=text).first()
    if cart is None:
        raise NotFound("Cart not found.")
    return cart
