"""The inventory errors, defined once: the cart refuses with them when a line does not fit what is free, and
catalog/inventory.py raises them when a reservation or late sale finds no room."""

from __future__ import annotations

from payfirst.core.errors import AppError


class InsufficientStock(AppError):
    code, status, message = "insufficient_stock", 409, "There is not enough stock for that quantity."


class SlotFull(AppError):
    code, status, message = "slot_full", 409, "That slot has no places left."
