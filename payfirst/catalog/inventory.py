"""Stock and slot capacity, changed only by set-based conditional UPDATEs under row locks taken in pk order.

One statement per table whatever the cart holds: the database decides whether there is room, never Python.
Callers run these inside their own transaction.atomic(); a refusal raises, and rolling back undoes the lot.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import Case, F, IntegerField, Value, When

from payfirst.catalog.models import Slot, Variant
from payfirst.core.errors import AppError


class InsufficientStock(AppError):
    code, status, message = "insufficient_stock", 409, "There is not enough stock for that quantity."


class SlotFull(AppError):
    code, status, message = "slot_full", 409, "That slot has no places left."


class InventoryCorrupted(RuntimeError):
    """A release or consume found fewer units held than it gives back: a bug, never the customer's problem."""


def _per_row(amounts: Mapping[int, int]) -> Case:
    """CASE id WHEN 3 THEN 2 WHEN 7 THEN 1 END: each row's own amount in one set-based statement."""
    return Case(
        *[When(pk=pk, then=Value(amount)) for pk, amount in amounts.items()],
        default=Value(0),
        output_field=IntegerField(),
    )


def _lock_variants(ids: list[int]) -> list[tuple[int, int, int, str]]:
    """SELECT ... FOR UPDATE in pk order, so concurrent callers always queue in the same order (no deadlock)."""
    return list(
        Variant.objects.select_for_update()
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", "stock_on_hand", "reserved", "sku")
    )


def _lock_slots(ids: list[int]) -> list[tuple[int, int, int]]:
    return list(
        Slot.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", "capacity", "taken")
    )


def _nonzero(amounts: Mapping[int, int]) -> dict[int, int]:
    return {pk: amount for pk, amount in sorted(amounts.items()) if amount}


def change_holds(*, variants: Mapping[int, int], slots: Mapping[int, int]) -> None:
    """Reserve (positive) or release (negative) units per variant id and places per slot id, all or nothing.

    Reserving needs room: `stock_on_hand - reserved >= n` per variant, `capacity - taken >= n` per slot.
    Raises InsufficientStock / SlotFull (409) when any row lacks room; the caller's transaction then rolls back.
    Variants are locked before slots, each in pk order: the one lock order payfirst uses everywhere.
    """
    variant_deltas, slot_deltas = _nonzero(variants), _nonzero(slots)
    if variant_deltas:
        locked = _lock_variants(list(variant_deltas))
        delta = _per_row(variant_deltas)
        changed = Variant.objects.filter(
            pk__in=list(variant_deltas), stock_on_hand__gte=F("reserved") + delta, reserved__gte=-delta
        ).update(reserved=F("reserved") + delta)
        if changed != len(variant_deltas):
            short = [sku for pk, on_hand, reserved, sku in locked if on_hand - reserved < variant_deltas[pk]]
            if short or len(locked) != len(variant_deltas):
                raise InsufficientStock(
                    f"Not enough stock for {', '.join(short) or 'an item that is no longer sold'}; "
                    "reduce the quantity or remove it from your cart."
                )
            raise InventoryCorrupted(f"Variant reservations below what is being released: {variant_deltas}")
    if slot_deltas:
        locked_slots = _lock_slots(list(slot_deltas))
        delta = _per_row(slot_deltas)
        changed = Slot.objects.filter(
            pk__in=list(slot_deltas), capacity__gte=F("taken") + delta, taken__gte=-delta
        ).update(taken=F("taken") + delta)
        if changed != len(slot_deltas):
            full = [pk for pk, capacity, taken in locked_slots if capacity - taken < slot_deltas[pk]]
            if full or len(locked_slots) != len(slot_deltas):
                raise SlotFull("A slot in your cart has no places left; choose another date or time.")
            raise InventoryCorrupted(f"Slot places below what is being released: {slot_deltas}")


def consume_holds(*, variants: Mapping[int, int]) -> None:
    """Turn reservations into sales at capture: stock_on_hand -= n and reserved -= n. Slots stay taken (a booking
    keeps its place), so only variants change."""
    amounts = _nonzero(variants)
    if not amounts:
        return
    _lock_variants(list(amounts))
    delta = _per_row(amounts)
    changed = Variant.objects.filter(pk__in=list(amounts), reserved__gte=delta).update(
        stock_on_hand=F("stock_on_hand") - delta, reserved=F("reserved") - delta
    )
    if changed != len(amounts):
        raise InventoryCorrupted(f"Variant reservations below what is being sold: {amounts}")


def sell_without_hold(*, variants: Mapping[int, int], slots: Mapping[int, int]) -> None:
    """Take units and places straight from what is free now (a late capture whose reservation was released).

    All or nothing; raises InsufficientStock / SlotFull when anything is gone (then the payment is refunded).
    """
    variant_amounts, slot_amounts = _nonzero(variants), _nonzero(slots)
    if variant_amounts:
        _lock_variants(list(variant_amounts))
        delta = _per_row(variant_amounts)
        changed = Variant.objects.filter(pk__in=list(variant_amounts), stock_on_hand__gte=F("reserved") + delta).update(
            stock_on_hand=F("stock_on_hand") - delta
        )
        if changed != len(variant_amounts):
            raise InsufficientStock("The stock held for this payment has been sold in the meantime.")
    if slot_amounts:
        # Reusing change_holds: for a slot, "held" and "sold" are the same counter (taken).
        try:
            change_holds(variants={}, slots=slot_amounts)
        except SlotFull:
            raise SlotFull("The slot held for this payment has been taken in the meantime.") from None
