"""catalog/inventory.py's statements (row locks in pk order, set-based guarded UPDATEs), run on the connected
database: the suite runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date, time

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from payfirst.catalog.errors import InsufficientStock, SlotFull
from payfirst.catalog.inventory import (
    InventoryCorrupted,
    change_holds,
    consume_holds,
    return_stock,
    sell_without_hold,
)
from payfirst.catalog.models import Slot, Variant
from payfirst.testing.factories import make_product, make_service, make_slot, make_variant

pytestmark = pytest.mark.django_db


def _variants(*stock: int) -> list[Variant]:
    product = make_product()
    return [make_variant(product=product, stock=units) for units in stock]


def _slot(capacity: int = 3, taken: int = 0) -> Slot:
    return make_slot(service=make_service(), on=date(2030, 1, 1), at=time(10, 0), capacity=capacity, taken=taken)


def _counters(*rows: Variant | Slot) -> list[tuple[int, int]]:
    out = []
    for row in rows:
        row.refresh_from_db()
        out.append((row.stock_on_hand, row.reserved) if isinstance(row, Variant) else (row.capacity, row.taken))
    return out


def test_change_holds_reserves_and_releases_in_one_locking_update_per_table():
    first, second = _variants(5, 5)
    slot = _slot()
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        change_holds(variants={second.pk: 2, first.pk: 3}, slots={slot.pk: 1})
    assert len(queries.captured_queries) == 2  # one UPDATE for the variants, then one for the slots
    variants_sql, slots_sql = (query["sql"] for query in queries.captured_queries)
    assert variants_sql.startswith('UPDATE "catalog_variant"') and slots_sql.startswith('UPDATE "catalog_slot"')
    # The rows are locked in pk order inside the UPDATE itself (PostgreSQL; SQLite has no row locks).
    assert ("ORDER BY r.id FOR NO KEY UPDATE OF r)" in variants_sql) == (connection.vendor == "postgresql")
    assert _counters(first, second, slot) == [(5, 3), (5, 2), (3, 1)]

    with transaction.atomic():
        change_holds(variants={first.pk: -3, second.pk: -2}, slots={slot.pk: -1})
    assert _counters(first, second, slot) == [(5, 0), (5, 0), (3, 0)]


def test_change_holds_refuses_all_or_nothing_when_any_row_lacks_room():
    roomy, short = _variants(5, 1)
    with pytest.raises(InsufficientStock, match=short.sku), transaction.atomic():
        change_holds(variants={roomy.pk: 1, short.pk: 2}, slots={})
    assert _counters(roomy, short) == [(5, 0), (1, 0)]

    # The message names only the row that lacked room, not one the same UPDATE could change (4 of 5 free here).
    with pytest.raises(InsufficientStock) as refused, transaction.atomic():
        change_holds(variants={roomy.pk: 4, short.pk: 2}, slots={})
    assert short.sku in refused.value.message and roomy.sku not in refused.value.message
    assert _counters(roomy, short) == [(5, 0), (1, 0)]

    full = _slot(capacity=1, taken=1)
    with pytest.raises(SlotFull), transaction.atomic():
        change_holds(variants={roomy.pk: 1}, slots={full.pk: 1})
    assert _counters(roomy, full) == [(5, 0), (1, 1)]


def test_releasing_more_than_is_held_is_a_bug_not_a_customer_error():
    [variant] = _variants(5)
    with pytest.raises(InventoryCorrupted), transaction.atomic():
        change_holds(variants={variant.pk: -1}, slots={})


def test_consume_holds_turns_reservations_into_sales():
    [variant] = _variants(5)
    with transaction.atomic():
        change_holds(variants={variant.pk: 2}, slots={})
        consume_holds(variants={variant.pk: 2})
    assert _counters(variant) == [(3, 0)]
    with pytest.raises(InventoryCorrupted), transaction.atomic():
        consume_holds(variants={variant.pk: 1})


def test_return_stock_gives_sold_units_back_in_one_update():
    first, second = _variants(0, 2)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        return_stock(variants={first.pk: 3, second.pk: 1})
    assert len(queries.captured_queries) == 1  # the UPDATE takes the row locks itself
    assert _counters(first, second) == [(3, 0), (3, 0)]
    with CaptureQueriesContext(connection) as queries:
        return_stock(variants={})
    assert queries.captured_queries == []


def test_sell_without_hold_takes_only_what_is_free():
    [variant] = _variants(2)
    slot = _slot(capacity=1)
    with transaction.atomic():
        sell_without_hold(variants={variant.pk: 2}, slots={slot.pk: 1})
    assert _counters(variant, slot) == [(0, 0), (1, 1)]
    with pytest.raises(InsufficientStock), transaction.atomic():
        sell_without_hold(variants={variant.pk: 1}, slots={})
    with pytest.raises(SlotFull, match="taken in the meantime"), transaction.atomic():
        sell_without_hold(variants={}, slots={slot.pk: 1})
