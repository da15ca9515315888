"""Stock and slot capacity, changed only by set-based conditional UPDATEs under row locks taken in pk order.

One statement per table whatever the cart holds: the database decides whether there is room, never Python.
Callers run these inside their own transaction.atomic(); a refusal raises, and rolling back undoes the lot.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import connection

from payfirst.catalog.models import Slot, Variant

__all__ = [
    "InsufficientStock",
    "InventoryCorrupted",
    "SlotFull",
    "change_holds",
    "consume_holds",
    "return_stock",
    "sell_without_hold",
]
from payfirst.catalog.errors import InsufficientStock, SlotFull
from payfirst.core.sql import for_update, placeholders
from payfirst.core.sql import table as sql_table


class InventoryCorrupted(RuntimeError):
    """A release or consume found fewer units held than it gives back: a bug, never the customer's problem."""


def _update_per_row(
    *, model: type[Variant] | type[Slot], assignments: str, guard: str, amounts: Mapping[int, int]
) -> int:
    """One set-based conditional UPDATE giving each row its own amount `d.qty`; returns how many rows it changed.

    Raw, parameterised SQL because this runs on every checkout and capture and the ORM's CASE/WHEN construction
    cost more than the statement itself. `UPDATE ... FROM (SELECT column1 AS id, column2 AS qty FROM (VALUES ...))`
    reads the same on PostgreSQL and SQLite (>= 3.33; both name VALUES columns column1, column2), and it starts with
    UPDATE so that Python's sqlite3 reports its rowcount. `assignments` and `guard` are fixed SQL from this module:
    never user input. The guard keeps the decision in the database (a row without room is simply not updated).
    """
    table = sql_table(model)
    rows = ", ".join(["(%s, %s)"] * len(amounts))
    params = [value for pk, amount in amounts.items() for value in (pk, amount)]
    amounts_table = f"(SELECT column1 AS id, column2 AS qty FROM (VALUES {rows}) AS v) AS d"
    sql = f"UPDATE {table} SET {assignments} FROM {amounts_table} WHERE {table}.id = d.id AND {guard}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _lock_rows(*, model: type[Variant] | type[Slot], columns: str, ids: list[int]) -> list[tuple]:
    """SELECT ... FOR UPDATE in pk order, so concurrent callers always queue in the same order (no deadlock).
    SQLite has no row locks (it serialises writers), so there it is a plain read."""
    sql = f"SELECT {columns} FROM {sql_table(model)} WHERE id IN ({placeholders(len(ids))}) ORDER BY id{for_update()}"
    with connection.cursor() as cursor:
        cursor.execute(sql, ids)
        return cursor.fetchall()


def _lock_variants(ids: list[int]) -> list[tuple[int, int, int, str]]:
    return _lock_rows(model=Variant, columns="id, stock_on_hand, reserved, sku", ids=ids)


def _lock_slots(ids: list[int]) -> list[tuple[int, int, int]]:
    return _lock_rows(model=Slot, columns="id, capacity, taken", ids=ids)


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
        changed = _update_per_row(
            model=Variant,
            assignments="reserved = reserved + d.qty",
            guard="stock_on_hand >= reserved + d.qty AND reserved >= -d.qty",
            amounts=variant_deltas,
        )
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
        changed = _update_per_row(
            model=Slot,
            assignments="taken = taken + d.qty",
            guard="capacity >= taken + d.qty AND taken >= -d.qty",
            amounts=slot_deltas,
        )
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
    changed = _update_per_row(
        model=Variant,
        assignments="stock_on_hand = stock_on_hand - d.qty, reserved = reserved - d.qty",
        guard="reserved >= d.qty",
        amounts=amounts,
    )
    if changed != len(amounts):
        raise InventoryCorrupted(f"Variant reservations below what is being sold: {amounts}")


def return_stock(*, variants: Mapping[int, int]) -> None:
    """Give sold units back to stock (a cancelled order): stock_on_hand += n per variant id, in one statement under
    the variants' row locks (pk order)."""
    amounts = _nonzero(variants)
    if not amounts:
        return
    _lock_variants(list(amounts))
    changed = _update_per_row(
        model=Variant,
        assignments="stock_on_hand = stock_on_hand + d.qty",
        guard="d.qty > 0",
        amounts=amounts,
    )
    if changed != len(amounts):
        raise InventoryCorrupted(f"Stock given back to variants that are not there or a negative amount: {amounts}")


def sell_without_hold(*, variants: Mapping[int, int], slots: Mapping[int, int]) -> None:
    """Take units and places straight from what is free now (a late capture whose reservation was released).

    All or nothing; raises InsufficientStock / SlotFull when anything is gone (then the payment is refunded).
    """
    variant_amounts, slot_amounts = _nonzero(variants), _nonzero(slots)
    if variant_amounts:
        _lock_variants(list(variant_amounts))
        changed = _update_per_row(
            model=Variant,
            assignments="stock_on_hand = stock_on_hand - d.qty",
            guard="stock_on_hand >= reserved + d.qty",
            amounts=variant_amounts,
        )
        if changed != len(variant_amounts):
            raise InsufficientStock("The stock held for this payment has been sold in the meantime.")
    if slot_amounts:
        # Reusing change_holds: for a slot, "held" and "sold" are the same counter (taken).
        try:
            change_holds(variants={}, slots=slot_amounts)
        except SlotFull:
            raise SlotFull("The slot held for this payment has been taken in the meantime.") from None
