"""Read queries for the cart: the user's one ACTIVE cart (created on first use) and its lines with their catalog rows."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from payfirst.cart.models import Cart, CartItem, CartStatus

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
