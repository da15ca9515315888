"""payments/locks.py's statements, run on the connected database (the suite runs on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from payfirst.fulfilment.services import FulfilmentLine
from payfirst.payments.locks import (
    insert_attempt_once,
    insert_idempotency_record_once,
    lock_cart_then_payment,
    payment_lines_for_fulfilment,
)
from payfirst.payments.models import IdempotencyRecord, Payment, PaymentAttempt, PaymentLine
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


def test_insert_attempt_once_inserts_one_row_per_attempt_in_one_statement(user, address, mixed_cart, fake_razorpay):
    payment = pay(user=user, address=address, fake=fake_razorpay)
    now = timezone.now()

    def insert(decision: str) -> int | None:
        return insert_attempt_once(
            payment_id=payment.pk,
            gateway_payment_id="pay_once",
            gateway_status="failed",
            amount=payment.amount,
            currency="INR",
            decision=decision,
            now=now,
        )

    with CaptureQueriesContext(connection) as queries:
        first = insert("NOTED")
    assert first is not None and len(queries.captured_queries) == 1
    # The unique constraint decides: a second insert of the same attempt does nothing, and says so.
    assert insert("RETURNED") is None
    row = PaymentAttempt.objects.get(pk=first)
    assert (row.payment_id, row.gateway_payment_id, row.gateway_status, row.decision, row.error) == (
        payment.pk,
        "pay_once",
        "failed",
        "NOTED",
        "",
    )
    assert row.created_at == row.updated_at == now


def test_insert_idempotency_record_once_claims_a_key_once_per_user(user, other_user):
    now = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        claimed = insert_idempotency_record_once(
            user_id=user.pk, key="k", fingerprint="f", state="in_progress", now=now
        )
    assert claimed is not None and len(queries.captured_queries) == 1
    assert (
        insert_idempotency_record_once(user_id=user.pk, key="k", fingerprint="g", state="in_progress", now=now) is None
    )
    # Keys are per user: another user's same key is a claim of its own.
    assert insert_idempotency_record_once(user_id=other_user.pk, key="k", fingerprint="f", state="in_progress", now=now)
    record = IdempotencyRecord.objects.get(pk=claimed)
    assert (record.user_id, record.key, record.fingerprint, record.state, record.created_at) == (
        user.pk,
        "k",
        "f",
        "in_progress",
        now,
    )
    assert (record.status_code, record.body, record.completed_at) == (None, None, None)
