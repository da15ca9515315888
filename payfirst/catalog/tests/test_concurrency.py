"""Merchant stock and capacity changes under concurrency (PostgreSQL): the database decides, nothing goes negative."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, time

import psycopg
import pytest
from django.db import connection, transaction
from django.db.models import F

from payfirst.catalog.inventory import change_holds
from payfirst.catalog.models import Slot, Variant
from payfirst.catalog.services import change_stock, set_slot_capacity
from payfirst.core.errors import InvalidState
from payfirst.testing.factories import make_product, make_service, make_slot, make_variant

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(calls: list[Callable[[], None]]) -> tuple[int, int]:
    """Run the calls at once, each on its own thread and database connection; count successes and refusals."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(call: Callable[[], None]) -> None:
        try:
            barrier.wait()
            call()
            result = "ok"
        except InvalidState:
            result = "refused"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes.count("ok"), outcomes.count("refused")


def test_concurrent_write_offs_never_take_stock_below_what_is_reserved():
    variant = make_variant(product=make_product(), stock=10, reserved=1)

    ok, refused = _race([lambda: change_stock(variant_id=variant.pk, delta=-3) for _ in range(8)])

    variant.refresh_from_db()
    assert (ok, refused) == (3, 5)
    assert (variant.stock_on_hand, variant.reserved) == (1, 1)


def test_concurrent_additions_all_count():
    variant = make_variant(product=make_product(), stock=0)

    ok, _ = _race([lambda: change_stock(variant_id=variant.pk, delta=2) for _ in range(8)])

    assert ok == 8
    assert Variant.objects.get(pk=variant.pk).stock_on_hand == 16


def test_capacity_cut_racing_a_booking_never_leaves_taken_above_capacity():
    slot = make_slot(service=make_service(), on=date(2030, 1, 1), at=time(7, 0), capacity=3, taken=2)

    def take_one() -> None:
        # What inventory.py does: a conditional UPDATE that fails when the slot is full.
        if not Slot.objects.filter(pk=slot.pk, taken__lt=F("capacity")).update(taken=F("taken") + 1):
            raise InvalidState("full")

    _race([take_one, lambda: set_slot_capacity(slot_id=slot.pk, capacity=2)])

    slot.refresh_from_db()
    assert slot.taken <= slot.capacity
    assert (slot.capacity, slot.taken) in {(3, 3), (2, 2)}


def _raw_connection() -> psycopg.Connection:
    """A connection of its own, outside Django's, to hold and probe row locks."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params)


def test_one_statement_reservation_locks_its_rows_in_pk_order():
    """change_holds takes its row locks inside its one UPDATE, still in pk order: held up on the higher row, it
    already holds the lower one (so two checkouts of the same variants queue instead of deadlocking)."""
    product = make_product()
    low, high = make_variant(product=product, stock=5), make_variant(product=product, stock=5)
    holder, probe = _raw_connection(), _raw_connection()
    failures: list[BaseException] = []
    try:
        holder.execute("SELECT id FROM catalog_variant WHERE id = %s FOR UPDATE", (high.pk,))

        def reserve() -> None:
            try:
                with transaction.atomic():
                    change_holds(variants={high.pk: 1, low.pk: 1}, slots={})
            except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread
                failures.append(error)
            finally:
                connection.close()

        reserving = threading.Thread(target=reserve)
        reserving.start()
        waiting = 0
        for _ in range(500):
            row = probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            probe.rollback()
            waiting = row[0] if row else 0
            if waiting:
                break
            threading.Event().wait(0.01)
        assert waiting == 1, "the reservation never queued on the higher row"
        with pytest.raises(psycopg.errors.LockNotAvailable):
            probe.execute("SELECT id FROM catalog_variant WHERE id = %s FOR UPDATE NOWAIT", (low.pk,))
        probe.rollback()
        holder.rollback()
        reserving.join(timeout=30)
        assert not reserving.is_alive()
    finally:
        holder.close()
        probe.close()
    assert failures == []
    assert [(v.stock_on_hand, v.reserved) for v in Variant.objects.filter(pk__in=(low.pk, high.pk)).order_by("pk")] == [
        (5, 1),
        (5, 1),
    ]
