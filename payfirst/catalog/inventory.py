"""Stock and slot capacity, changed only by set-based conditional UPDATEs under row locks taken in pk order.

One statement per table whatever the cart holds (it takes the row locks too): the database decides whether there is
room, never Python.
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
from payfirst.core.sql import for_no_key_update, placeholders
from payfirst.core.sql import table as sql_table


class InventoryCorrupted(RuntimeError):
    """A release or consume found fewer units held than it gives back: a bug, never the customer's problem."""


def _update_per_row(
    *, model: type[Variant] | type[Slot], assignments: str, guard: str, amounts: Mapping[int, int]
) -> set[int]:
    """Lock the rows in pk order and give each its own amount `d.qty`, in ONE set-based conditional UPDATE; returns
    the ids of the rows it changed (a row without room is simply not updated: the database decides, not Python).

    `UPDATE t SET ... FROM (SELECT r.id, d.qty FROM t r JOIN (VALUES ...) d ... ORDER BY r.id FOR NO KEY UPDATE OF r)`:
    the sub-select takes the row locks in pk order before the UPDATE touches a row (it changes only rows the
    sub-select has locked), so concurrent callers always queue in the same order and never deadlock; a row another
    transaction changed while this one waited is re-checked against the guard as it is now (READ COMMITTED).
    NO KEY UPDATE is the lock the UPDATE itself takes (no key changes): it queues the counters' writers, yet lets
    another transaction insert a row that references the variant or slot (an order item, a booking, a payment line,
    whose foreign-key check takes KEY SHARE) while a checkout or a capture holds the counter row.
    SQLite has no row locks (it serialises writers): there the sub-select is a plain read. `VALUES` columns are
    column1, column2 on both; RETURNING needs SQLite >= 3.35. Raw, parameterised SQL because this runs on every
    checkout and capture and the ORM's CASE/WHEN construction cost more than the statement itself. `assignments`
    and `guard` are fixed SQL from this module: never user input.
    """
    table = sql_table(model)
    rows = ", ".join(["(%s, %s)"] * len(amounts))
    params = [value for pk, amount in amounts.items() for value in (pk, amount)]
    locked = (
        f"(SELECT r.id AS id, v.column2 AS qty FROM {table} r JOIN (VALUES {rows}) AS v ON v.column1 = r.id "
        f"ORDER BY r.id{for_no_key_update(of=('r',))}) AS d"
    )
    sql = f"UPDATE {table} SET {assignments} FROM {locked} WHERE {table}.id = d.id AND {guard} RETURNING {table}.id"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def _read_rows(*, model: type[Variant] | type[Slot], columns: str, ids: list[int]) -> list[tuple]:
    """The rows as they are now (already locked by this transaction where they exist), to say what lacked room.
    Read only when an UPDATE refused something: the refusal is the rare path."""
    sql = f"SELECT {columns} FROM {sql_table(model)} WHERE id IN ({placeholders(len(ids))}) ORDER BY id"
    with connection.cursor() as cursor:
        cursor.execute(sql, ids)
        return cursor.fetchall()


def _nonzero(amounts: Mapping[int, int]) -> dict[int, int]:
    return {pk: amount for pk, amount in sorted(amounts.items()) if amount}


def change_holds(*, variants: Mapping[int, int], slots: Mapping[int, int]) -> None:
    """Reserve (positive) or release (negative) units per variant id and places per slot id, all or nothing.

    Reserving needs room: `stock_on_hand - reserved >= n` per variant, `capacity - taken >= n` per slot.
    Raises InsufficientStock / SlotFull (409) when any row lacks room; the caller's transaction then rolls back.
    Variants are locked before slots, each in pk order: the one lock order payfirst uses everywhere. One statement
    per table (two when a row is refused: the second says which).
    """
    variant_deltas, slot_deltas = _nonzero(variants), _nonzero(slots)
    if variant_deltas:
        changed = _update_per_row(
            model=Variant,
            assignments="reserved = reserved + d.qty",
            guard="stock_on_hand >= reserved + d.qty AND reserved >= -d.qty",
            amounts=variant_deltas,
        )
        if len(changed) != len(variant_deltas):
            refused = [pk for pk in variant_deltas if pk not in changed]
            found = _read_rows(model=Variant, columns="id, stock_on_hand, reserved, sku", ids=refused)
            short = [sku for pk, on_hand, reserved, sku in found if on_hand - reserved < variant_deltas[pk]]
            if short or len(found) != len(refused):
                raise InsufficientStock(
                    f"Not enough stock for {', '.join(short) or 'an item that is no longer sold'}; "
                    "reduce the quantity or remove it from your cart."
                )
            raise InventoryCorrupted(f"Variant reservations below what is being released: {variant_deltas}")
    if slot_deltas:
        changed = _update_per_row(
            model=Slot,
            assignments="taken = taken + d.qty",
            guard="capacity >= taken + d.qty AND taken >= -d.qty",
            amounts=slot_deltas,
        )
        if len(changed) != len(slot_deltas):
            refused = [pk for pk in slot_deltas if pk not in changed]
            found_slots = _read_rows(model=Slot, columns="id, capacity, taken", ids=refused)
            full = [pk for pk, capacity, taken in found_slots if capacity - taken < slot_deltas[pk]]
            if full or len(found_slots) != len(refused):
                raise SlotFull("A slot in your cart has no places left; choose another date or time.")
            raise InventoryCorrupted(f"Slot places below what is being released: {slot_deltas}")


def consume_holds(*, variants: Mapping[int, int]) -> None:
    """Turn reservations into sales at capture: stock_on_hand -= n and reserved -= n. Slots stay taken (a booking
    keeps its place), so only variants change."""
    amounts = _nonzero(variants)
    if not amounts:
        return
    changed = _update_per_row(
        model=Variant,
        assignments="stock_on_hand = stock_on_hand - d.qty, reserved = reserved - d.qty",
        guard="reserved >= d.qty",
        amounts=amounts,
    )
    if len(changed) != len(amounts):
        raise InventoryCorrupted(f"Variant reservations below what is being sold: {amounts}")


def return_stock(*, variants: Mapping[int, int]) -> None:
    """Give sold units back to stock (a cancelled order): stock_on_hand += n per variant id, in one statement under
    the variants' row locks (pk order)."""
    amounts = _nonzero(variants)
    if not amounts:
        return
    changed = _update_per_row(
        model=Variant,
        assignments="stock_on_hand = stock_on_hand + d.qty",
        guard="d.qty > 0",
        amounts=amounts,
    )
    if len(changed) != len(amounts):
        raise InventoryCorrupted(f"Stock given back to variants that are not there or a negative amount: {amounts}")


def sell_without_hold(*, variants: Mapping[int, int], slots: Mapping[int, int]) -> None:
    """Take units and places straight from what is free now (a late capture whose reservation was released).

    All or nothing; raises InsufficientStock / SlotFull when anything is gone (then the payment is refunded).
    """
    variant_amounts, slot_amounts = _nonzero(variants), _nonzero(slots)
    if variant_amounts:
        changed = _update_per_row(
            model=Variant,
            assignments="stock_on_hand = stock_on_hand - d.qty",
            guard="stock_on_hand >= reserved + d.qty",
            amounts=variant_amounts,
        )
        if len(changed) != len(variant_amounts):
            raise InsufficientStock("The stock held for this payment has been sold in the meantime.")
    if slot_amounts:
        # Reusing change_holds: for a slot, "held" and "sold" are the same counter (taken).
        try:
            change_holds(variants={}, slots=slot_amounts)
        except SlotFull:
            raise SlotFull("The slot held for this payment has been taken in the meantime.") from None
