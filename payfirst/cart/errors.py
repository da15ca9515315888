"""The cart's errors, on the AppError tree: each has the stable code and HTTP status API.md gives it."""

from __future__ import annotations

from payfirst.catalog.errors import InsufficientStock, SlotFull
from payfirst.core.errors import AppError, NotFound

__all__ = [
    "CartItemNotFound",
    "InsufficientStock",
    "InvalidPromoCode",
    "InvalidQuantity",
    "SlotFull",
    "SlotNotAvailable",
]


class InvalidQuantity(AppError):
    code, status = "invalid_quantity", 400
    message = "A product line holds 1 to 99 units; service and plan lines hold 1."


class SlotNotAvailable(AppError):
    code, status, message = "slot_not_available", 400, "That slot does not exist for this service, or it has passed."


class InvalidPromoCode(AppError):
    code, status, message = "invalid_promo_code", 400, "That promo code cannot be used."


class CartItemNotFound(NotFound):
    message = "There is no such line in your cart."
