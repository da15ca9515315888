"""payments/locks.py's statements, run on the connected database (the suite runs on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from payfirst.fulfilment.services import FulfilmentLine
from payfirst.payments.locks import lock_cart_then_payment, payment_lines_for_fulfilment
from payfirst.payments.models import Payment, PaymentLine
from payfirst.payments.tests.flows import pay

pytestmark = pytest.mark.django_db


def test_lock_cart_then_payment_returns_the_payment_as_stored_in_one_statement(
    user, address, mixed_cart, fake_razorpay
):
    payment = pay(user=user, address=address, fake=fake_razorpay)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        locked = lock_cart_then_payment(payment_id=payment.pk)
    assert (locked.pk, locked.status, locked.amount, locked.cart_id) == (
        payment.pk,
        payment.status,
        payment.amount,
        payment.cart_id,
    )
    [query] = queries.captured_queries
    assert query["sql"].endswith(" FOR UPDATE OF c, p") == (connection.vendor == "postgresql")


def test_lock_cart_then_payment_of_a_missing_payment_raises_does_not_exist():
    with transaction.atomic(), pytest.raises(Payment.DoesNotExist):
        lock_cart_then_payment(payment_id=10**9)


def test_payment_lines_for_fulfilment_joins_the_service_and_the_plan_in_one_query(
    user, address, mixed_cart, fake_razorpay, django_assert_num_queries
):
    payment = pay(user=user, address=address, fake=fake_razorpay)
    stored = list(PaymentLine.objects.filter(payment=payment).select_related("package", "plan").order_by("pk"))
    with django_assert_num_queries(1):
        lines = payment_lines_for_fulfilment(payment_id=payment.pk)
    assert all(isinstance(line, FulfilmentLine) for line in lines)
    assert [line.id for line in lines] == [line.pk for line in stored]
    for line, row in zip(lines, stored, strict=True):
        assert (line.payment_id, line.kind, line.quantity, line.total, line.selected_date, line.selected_time) == (
            payment.pk,
            row.kind,
            row.quantity,
            row.total,
            row.selected_date,
            row.selected_time,
        )
        assert line.service_id == (row.package.service_id if row.package else None)
        assert (line.plan_code, line.plan_days) == (
            (row.plan.code, row.plan.duration_days) if row.plan else (None, None)
        )
    assert {line.kind for line in lines} == {"product", "service", "plan"}


def test_payment_lines_for_fulfilment_of_a_payment_without_lines_is_empty():
    assert payment_lines_for_fulfilment(payment_id=10**9) == []
