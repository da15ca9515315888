"""Merchant stock and capacity changes: relative to the row as it is now, never below what is held."""

from __future__ import annotations

from datetime import date, time

import pytest

from payfirst.catalog.models import Slot, Variant
from payfirst.catalog.services import change_stock, set_slot_capacity
from payfirst.core.errors import InvalidState, NotFound
from payfirst.testing.factories import make_product, make_service, make_slot, make_variant

pytestmark = pytest.mark.django_db


def test_change_stock_adds_to_the_current_row_not_to_a_stale_copy():
    variant = make_variant(product=make_product(), stock=10, reserved=0)
    Variant.objects.filter(pk=variant.pk).update(stock_on_hand=7)  # a sale captured meanwhile

    change_stock(variant_id=variant.pk, delta=5)

    assert Variant.objects.get(pk=variant.pk).stock_on_hand == 12


def test_change_stock_removes_down_to_what_is_reserved_and_no_further():
    variant = make_variant(product=make_product(), stock=10, reserved=4)

    change_stock(variant_id=variant.pk, delta=-6)
    with pytest.raises(InvalidState, match="Only 0 unit"):
        change_stock(variant_id=variant.pk, delta=-1)

    variant.refresh_from_db()
    assert (variant.stock_on_hand, variant.reserved) == (4, 4)


def test_change_stock_of_an_unknown_variant_is_not_found():
    with pytest.raises(NotFound):
        change_stock(variant_id=424242, delta=-1)


def test_set_slot_capacity_never_goes_below_what_is_taken():
    slot = make_slot(service=make_service(), on=date(2030, 1, 1), at=time(7, 0), capacity=5, taken=3)

    set_slot_capacity(slot_id=slot.pk, capacity=3)
    with pytest.raises(InvalidState, match="3 place"):
        set_slot_capacity(slot_id=slot.pk, capacity=2)

    slot.refresh_from_db()
    assert (slot.capacity, slot.taken) == (3, 3)
    with pytest.raises(NotFound):
        set_slot_capacity(slot_id=424242, capacity=1)
    assert Slot.objects.count() == 1
