"""payments/locks.py's statements, run on the connected database (the suite runs on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from payfirst.core.throttling import Quota, Rate
from payfirst.fulfilment.services import FulfilmentLine
from payfirst.payments.locks import (
    StoredWebhook,
    insert_attempt_once,
    insert_idempotency_record_once,
    lock_cart_then_payment,
    payment_by_gateway_order,
    payment_lines_for_fulfilment,
    store_verified_webhook,
)
from payfirst.payments.models import (
    IdempotencyRecord,
    Payment,
    PaymentAttempt,
    PaymentLine,
    WebhookEvent,
    WebhookKind,
    WebhookOutcome,
)
from payfirst.payments.tests.flows import pay
from payfirst.payments.webhooks import process_webhook_task
from payfirst.testing.concurrency import run_concurrently
from payfirst.testing.workers import task_row_fields

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


def test_payment_by_gateway_order_reads_the_payment_and_its_cart_in_one_statement(
    user, address, mixed_cart, fake_razorpay, django_assert_num_queries
):
    payment = pay(user=user, address=address, fake=fake_razorpay)
    stored = Payment.objects.select_related("cart").get(pk=payment.pk)
    with django_assert_num_queries(1):
        found = payment_by_gateway_order(gateway="razorpay", gateway_order_id=payment.gateway_order_id)
        assert found is not None and found.cart.cart_id == stored.cart.cart_id
    assert {f.attname: getattr(found, f.attname) for f in Payment._meta.concrete_fields} == {
        f.attname: getattr(stored, f.attname) for f in Payment._meta.concrete_fields
    }
    assert payment_by_gateway_order(gateway="phonepe", gateway_order_id=payment.gateway_order_id) is None
    assert payment_by_gateway_order(gateway="razorpay", gateway_order_id="order_nobodys") is None


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


def _delivery(event_id: str = "evt_1", *, kind: str = WebhookKind.PAYMENT) -> dict[str, object]:
    return {
        "gateway": "razorpay",
        "headers": {"Content-Type": "application/json", "X-Razorpay-Event-Id": event_id},
        "body": '{"event": "payment.captured", "note": "50% off, it\'s fine"}',
        "body_size": 57,
        "event_id": event_id,
        "event_name": "payment.captured",
        "gateway_order_id": "order_1",
        "kind": kind,
        "gateway_refund_id": "",
        "refund_reference": "",
        "gateway_payment_id": "pay_1",
    }


def _store(event_id: str = "evt_1", **kwargs: object) -> StoredWebhook | None:
    return store_verified_webhook(
        delivery=_delivery(event_id, kind=kwargs.pop("kind", WebhookKind.PAYMENT)),  # type: ignore[arg-type]
        is_actionable=kwargs.pop("is_actionable", True),  # type: ignore[arg-type]
        task=process_webhook_task,
        now=timezone.now(),
        **kwargs,  # type: ignore[arg-type]
    )


def test_store_verified_webhook_claims_and_queues_in_one_statement_on_postgresql():
    with CaptureQueriesContext(connection) as queries:
        stored = _store()
    assert stored is not None and stored.outcome == WebhookOutcome.QUEUED
    if connection.vendor == "postgresql":
        [query] = queries.captured_queries
        assert query["sql"].startswith("WITH delivery AS (")
    row = WebhookEvent.objects.get()
    assert (row.pk, row.is_verified, row.is_claimed, row.outcome, row.processed_at, row.attempts, row.error) == (
        stored.id,
        True,
        True,
        WebhookOutcome.QUEUED,
        None,
        0,
        "",
    )
    assert (row.headers, row.body, row.body_size, row.event_id, row.gateway_order_id, row.gateway_payment_id) == (
        {"Content-Type": "application/json", "X-Razorpay-Event-Id": "evt_1"},
        '{"event": "payment.captured", "note": "50% off, it\'s fine"}',
        57,
        "evt_1",
        "order_1",
        "pay_1",
    )


def test_store_verified_webhook_writes_the_task_row_enqueue_writes():
    stored = _store()
    assert stored is not None
    written = DBTaskResult.objects.get()
    expected = process_webhook_task.enqueue(webhook_event_id=stored.id).db_result  # type: ignore[attr-defined]
    expected.refresh_from_db()
    assert task_row_fields(written) == task_row_fields(expected)
    assert DBTaskResult.objects.ready().count() == 2  # the worker's own query finds it


def test_store_verified_webhook_stores_a_second_copy_as_an_unclaimed_duplicate_without_a_task():
    first = _store()
    second = _store()
    assert first is not None and second is not None
    assert (second.outcome, second.id != first.id) == (WebhookOutcome.DUPLICATE, True)
    duplicate = WebhookEvent.objects.get(pk=second.id)
    assert (duplicate.is_claimed, duplicate.is_verified, duplicate.processed_at is not None) == (False, True, True)
    assert DBTaskResult.objects.count() == 1
    assert WebhookEvent.objects.get(pk=first.id).next_attempt_at is None  # nothing to hurry: it is queued


def test_store_verified_webhook_hurries_a_first_copy_waiting_for_its_retry():
    first = _store()
    assert first is not None
    later = timezone.now() + timedelta(hours=1)
    WebhookEvent.objects.filter(pk=first.id).update(outcome=WebhookOutcome.ERROR, next_attempt_at=later)
    DBTaskResult.objects.all().delete()
    second = _store()
    assert second is not None and second.outcome == WebhookOutcome.DUPLICATE
    hurried = WebhookEvent.objects.get(pk=first.id)
    assert hurried.next_attempt_at is not None and hurried.next_attempt_at < later
    [task] = DBTaskResult.objects.ready()
    assert task.args_kwargs == {"args": [], "kwargs": {"webhook_event_id": first.id}}


def test_store_verified_webhook_of_an_event_that_needs_nothing_is_ignored_without_a_task():
    stored = _store(kind=WebhookKind.OTHER, is_actionable=False)
    assert stored is not None and stored.outcome == WebhookOutcome.IGNORED
    row = WebhookEvent.objects.get()
    assert (row.is_claimed, row.processed_at is not None) == (True, True)
    assert not DBTaskResult.objects.exists()


def test_store_verified_webhook_writes_nothing_while_the_source_is_refused():
    quota = Quota(scope="webhooks", ident="ip:192.0.2.1", rate=Rate(limit=2, period=60))
    assert _store("evt_a", refused=quota.refused_sql()) is not None
    quota.hit()
    assert _store("evt_b", refused=quota.refused_sql()) is not None  # one forged delivery: not used up yet
    quota.hit()
    with CaptureQueriesContext(connection) as queries:
        assert _store("evt_c", refused=quota.refused_sql()) is None
    assert len(queries.captured_queries) == (1 if connection.vendor == "postgresql" else 3)  # SQLite: in a savepoint
    assert sorted(WebhookEvent.objects.values_list("event_id", flat=True)) == ["evt_a", "evt_b"]
    assert DBTaskResult.objects.count() == 2
    other_source = Quota(scope="webhooks", ident="ip:192.0.2.2", rate=Rate(limit=2, period=60))
    assert _store("evt_c", refused=other_source.refused_sql()) is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_store_verified_webhook_lets_one_of_many_concurrent_copies_claim_the_event():
    for round_number in range(5):
        results = run_concurrently([lambda n=round_number: _store(f"evt_race{n}") for _ in range(6)])
        outcomes = sorted(result.outcome for result in results)
        assert outcomes == [WebhookOutcome.DUPLICATE] * 5 + [WebhookOutcome.QUEUED], results
    assert DBTaskResult.objects.count() == 5
    assert WebhookEvent.objects.filter(is_claimed=True).count() == 5
