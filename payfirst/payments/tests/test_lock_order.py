"""PostgreSQL: record_capture locks the cart row and the payment row in one statement, and still in the one lock
order (cart, then payment) that checkout uses; otherwise a checkout and a capture of one cart could deadlock."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db import connection

from payfirst.payments import services
from payfirst.payments.models import Payment
from payfirst.payments.states import EventSource, PaymentStatus

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _raw_connection() -> psycopg.Connection:
    """A connection of its own, outside Django's, to hold and probe row locks."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params)


def test_capture_locks_the_cart_row_before_the_payment_row(user, address, mixed_cart, fake_razorpay):
    payment = services.create_payment_for_cart(user=user, gateway="razorpay", shipping_address_id=address.pk).payment
    fake_razorpay.settle(payment.gateway_order_id)
    answer = fake_razorpay.fetch_payment(gateway_order_id=payment.gateway_order_id)
    holder, probe = _raw_connection(), _raw_connection()
    outcome: list[object] = []
    try:
        # A checkout of this cart is under way: it holds the cart row.
        holder.execute("SELECT id FROM cart_cart WHERE id = %s FOR UPDATE", (payment.cart_id,))

        def capture() -> None:
            try:
                outcome.append(
                    services.record_capture(payment=payment, gateway_payment=answer, source=EventSource.WEBHOOK)
                )
            finally:
                connection.close()

        capturing = threading.Thread(target=capture)
        capturing.start()
        # Wait until the capture is queued on the cart row (a lock wait in pg_stat_activity), then look at the payment
        # row: the capture must not hold it yet, so the checkout can still take it after the cart.
        waiting = 0
        for _ in range(500):
            (waiting,) = probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone() or (0,)
            probe.rollback()
            if waiting:
                break
            threading.Event().wait(0.01)
        assert waiting == 1, "the capture never queued on the cart row"
        probe.execute("SELECT id FROM payments_payment WHERE id = %s FOR UPDATE NOWAIT", (payment.pk,))
        probe.rollback()
        holder.rollback()
        capturing.join(timeout=30)
        assert not capturing.is_alive()
    finally:
        holder.close()
        probe.close()
    assert outcome == [services.SyncOutcome.CAPTURED]
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.CAPTURED
