"""Merchant changes to stock and slot capacity, as conditional UPDATEs.

Payments move `Variant.reserved`, `Variant.stock_on_hand` (on capture) and `Slot.taken` at any moment (inventory.py),
so a merchant's change is applied relative to the row as it is now, never written back from a stale copy.
"""

from __future__ import annotations

from django.db.models import F

from payfirst.catalog.models import Slot, Variant
from payfirst.core.errors import InvalidState, NotFound


def change_stock(*, variant_id: int, delta: int) -> None:
    """Add `delta` units on hand (remove with a negative delta), never leaving fewer than live payments hold."""
    if delta == 0:
        return
    # stock_on_hand + delta >= reserved, decided by the database in the same statement as the write.
    updated = Variant.objects.filter(pk=variant_id, stock_on_hand__gte=F("reserved") - delta).update(
        stock_on_hand=F("stock_on_hand") + delta
    )
    if updated:
        return
    variant = Variant.objects.filter(pk=variant_id).values("stock_on_hand", "reserved").first()
    if variant is None:
        raise NotFound(f"Variant {variant_id} was not found.")
    free = variant["stock_on_hand"] - variant["reserved"]
    raise InvalidState(f"Only {free} unit(s) are not held by pending payments; {-delta} cannot be removed.")


def set_slot_capacity(*, slot_id: int, capacity: int) -> None:
    """Set a slot's capacity, never below the places already taken by bookings and live reservations."""
    updated = Slot.objects.filter(pk=slot_id, taken__lte=capacity).update(capacity=capacity)
    if updated:
        return
    slot = Slot.objects.filter(pk=slot_id).values("taken").first()
    if slot is None:
        raise NotFound(f"Slot {slot_id} was not found.")
    raise InvalidState(f"{slot['taken']} place(s) are already taken; the capacity cannot be {capacity}.")
