"""Reconciliation: webhooks dropped and no confirm → reconciliation alone fulfils; failures, expiry, pending refunds,
gateway errors counted and skipped, dry runs, the paid-but-not-fulfilled alarm, the command's table, the periodic
task, the metric; and on PostgreSQL two runs at once where the second changes nothing."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from payfirst.gateways.base import GatewayStatus, GatewayUnavailable
from payfirst.ops.tasks import enqueue_due_periodic_tasks, periodic_tasks, run_queued_tasks
from payfirst.payments.models import Payment, PaymentEvent, Refund, RefundStatus
from payfirst.payments.reconcile import (
    RECONCILE_RESULTS,
    RESULTS,
    parse_since,
    reconcile_open_payments,
)
from payfirst.payments.refunds import refund_payment
from payfirst.payments.states import PaymentStatus
from payfirst.payments.tests.flows import (
    assert_every_capture_is_fulfilled_or_refunded,
    fulfilment_counts,
    hold_refunds_pending,
    open_payment,
    pay,
    settle_refund,
)
from payfirst.testing import factories

S = PaymentStatus


def counts(**nonzero: int) -> Counter[str]:
    return Counter({**dict.fromkeys(RESULTS, 0), **nonzero})


@pytest.mark.django_db
def test_webhooks_dropped_and_no_confirm_reconciliation_alone_fulfils(user, address, mixed_cart, fake_razorpay):
    payment = open_payment(user=user, address=address)
    fake_razorpay.settle(payment.gateway_order_id)  # the customer paid; no webhook, no confirm ever arrives
    assert reconcile_open_payments() == counts(checked=1, captured=1, fulfilled=1)
    payment.refresh_from_db()
    assert payment.status == S.CAPTURED and fulfilment_counts(payment.pk) == (1, 1, 1)
    assert PaymentEvent.objects.filter(payment=payment, to_status=S.CAPTURED, source="reconcile").count() == 1
    assert reconcile_open_payments() == counts()  # nothing open any more
    assert fulfilment_counts(payment.pk) == (1, 1, 1)
    assert_every_capture_is_fulfilled_or_refunded()


@pytest.mark.django_db
def test_reconciliation_records_failures_and_expires_what_is_unpaid_past_expiry(
    user, other_user, address, mixed_cart, variant, fake_razorpay
):
    failed = open_payment(user=user, address=address)
    fake_razorpay.settle(failed.gateway_order_id, GatewayStatus.FAILED, error_code="BAD_CARD")
    factories.add_product(factories.active_cart(other_user), variant, 1)
    stale = open_payment(user=other_user, address=factories_address(other_user))
    Payment.objects.filter(pk=stale.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert reconcile_open_payments() == counts(checked=2, failed=1, expired=1)
    assert Payment.objects.get(pk=failed.pk).status == S.FAILED
    assert Payment.objects.get(pk=stale.pk).status == S.EXPIRED
    # Ended-unpaid payments stay on the list (a late capture may arrive) but nothing changes for them.
    assert reconcile_open_payments() == counts(checked=2, unchanged=2)


def factories_address(owner):
    from payfirst.accounts.models import Address

    return Address.objects.create(
        user=owner,
        full_name="Ravi K",
        phone="+919812345678",
        address_line_1="1 Park St",
        city="Kolkata",
        state="West Bengal",
        postal_code="700016",
    )


@pytest.mark.django_db
def test_a_gateway_error_counts_and_the_run_goes_on(user, other_user, address, mixed_cart, variant, fake_razorpay):
    first = open_payment(user=user, address=address)
    factories.add_product(factories.active_cart(other_user), variant, 1)
    second = open_payment(user=other_user, address=factories_address(other_user))
    fake_razorpay.settle(first.gateway_order_id)
    fake_razorpay.settle(second.gateway_order_id)
    fake_razorpay.fail_next("fetch_payment", GatewayUnavailable("timed out"))
    assert reconcile_open_payments() == counts(checked=2, errors=1, captured=1, fulfilled=1)
    assert reconcile_open_payments() == counts(checked=1, captured=1, fulfilled=1)
    assert set(Payment.objects.values_list("status", flat=True)) == {S.CAPTURED}


@pytest.mark.django_db
def test_since_and_limit_bound_the_run(user, address, mixed_cart, fake_razorpay):
    payment = open_payment(user=user, address=address)
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(days=5))
    fake_razorpay.settle(payment.gateway_order_id)
    assert reconcile_open_payments(since=timezone.now() - timedelta(days=3)) == counts()
    assert reconcile_open_payments(limit=1, since=None)["captured"] == 1


@pytest.mark.django_db
def test_pending_refunds_are_read_back_and_sent_again(user, address, mixed_cart, fake_razorpay, staff_user):
    payment = pay(user=user, address=address, fake=fake_razorpay)
    hold_refunds_pending(fake_razorpay)
    slow = refund_payment(payment_id=payment.pk, amount=1000, reason="slow", actor_id=staff_user.pk)
    fake_razorpay.fail_next("refund", GatewayUnavailable("down"))
    unsent = refund_payment(payment_id=payment.pk, amount=2000, reason="unsent", actor_id=staff_user.pk)
    assert (slow.status, unsent.status, unsent.gateway_refund_id) == (RefundStatus.PENDING, RefundStatus.PENDING, "")
    assert reconcile_open_payments() == counts(checked=2, unchanged=2)  # sent now, still pending at the gateway
    settle_refund(fake_razorpay, slow.reference)
    settle_refund(fake_razorpay, Refund.objects.get(pk=unsent.pk).reference)
    assert reconcile_open_payments() == counts(checked=2, refunded=2)
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == (S.PARTIALLY_REFUNDED, 3000)
    assert len(fake_razorpay.refunds) == 2


@pytest.mark.django_db
def test_dry_run_asks_and_changes_nothing(user, address, mixed_cart, fake_razorpay):
    payment = open_payment(user=user, address=address)
    fake_razorpay.settle(payment.gateway_order_id)
    before = RECONCILE_RESULTS.labels("captured")._value.get()
    assert reconcile_open_payments(dry_run=True) == counts(checked=1, captured=1)
    payment.refresh_from_db()
    assert payment.status == S.PENDING and fulfilment_counts(payment.pk) == (0, 0, 0)
    assert fake_razorpay.calls["fetch_payment"] == 1
    assert RECONCILE_RESULTS.labels("captured")._value.get() == before
    reconcile_open_payments()
    assert RECONCILE_RESULTS.labels("captured")._value.get() == before + 1


@pytest.mark.django_db
def test_the_alarm_reports_a_capture_without_fulfilment_or_refund(user, fake_razorpay, caplog):
    lost = factories.make_bare_payment(user=user, status=S.CAPTURED, gateway_order_id="forder_lost")
    refunding = factories.make_bare_payment(user=user, status=S.CAPTURED, gateway_order_id="forder_refunding")
    Refund.objects.create(payment=refunding, amount=refunding.amount, reason="automatic", is_automatic=True)
    failed_refund = factories.make_bare_payment(user=user, status=S.CAPTURED, gateway_order_id="forder_failed")
    Refund.objects.create(payment=failed_refund, amount=1, reason="x", status=RefundStatus.FAILED)
    fake_razorpay.fail_next("refund", GatewayUnavailable("down"))  # the pending refund cannot be sent this time
    with caplog.at_level(logging.ERROR, logger="payfirst.payments.reconcile"):
        outcome = reconcile_open_payments()
    assert (outcome["alarms"], outcome["errors"]) == (2, 1)
    alarms = [r for r in caplog.records if r.levelno == logging.ERROR and "paid but not fulfilled" in r.getMessage()]
    assert sorted(r.payment_id for r in alarms) == [lost.pk, failed_refund.pk]


@pytest.mark.django_db
def test_the_command_prints_the_summary_table(user, address, mixed_cart, fake_razorpay):
    payment = open_payment(user=user, address=address)
    fake_razorpay.settle(payment.gateway_order_id)
    out, err = StringIO(), StringIO()
    call_command("reconcile_payments", "--limit", "10", "--since", "2d", "--dry-run", stdout=out, stderr=err)
    table = out.getvalue()
    assert "dry run" in table and Payment.objects.get().status == S.PENDING
    call_command("reconcile_payments", stdout=(out := StringIO()), stderr=err)
    rows = dict(line.split() for line in out.getvalue().splitlines()[3:])
    assert list(rows) == list(RESULTS)
    assert (rows["checked"], rows["captured"], rows["fulfilled"], rows["errors"]) == ("1", "1", "1", "0")
    assert "reconciling" in err.getvalue()  # the progress bar
    factories.make_bare_payment(user=user, status=S.CAPTURED, gateway_order_id="forder_lost")
    call_command("reconcile_payments", "--since", "all", stdout=StringIO(), stderr=(err := StringIO()))
    assert "ALARM: 1 captured payment" in err.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args", [["--since", "yesterday"], ["--since", "5x"], ["--limit", "0"], ["--since", "2999-01-01"]]
)
def test_the_command_refuses_bad_arguments(args):
    with pytest.raises(CommandError):
        call_command("reconcile_payments", *args, stdout=StringIO(), stderr=StringIO())


def test_parse_since_takes_dates_datetimes_and_durations():
    now = timezone.now()
    assert parse_since("6h", now=now) == now - timedelta(hours=6)
    assert parse_since("3d", now=now) == now - timedelta(days=3)
    assert parse_since("2w", now=now) == now - timedelta(weeks=2)
    assert parse_since("90m", now=now) == now - timedelta(minutes=90)
    assert parse_since("2026-11-20T10:00:00+05:30").utcoffset() == timedelta(hours=5, minutes=30)
    assert timezone.is_aware(parse_since("2026-11-20"))
    with pytest.raises(ValueError):
        parse_since("d")


@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_reconciliation_periodically(user, address, mixed_cart, fake_razorpay):
    name = "payfirst.payments.reconcile.reconcile_open_payments_task"
    assert periodic_tasks()[name].every == timedelta(minutes=5)
    payment = open_payment(user=user, address=address)
    fake_razorpay.settle(payment.gateway_order_id)
    assert enqueue_due_periodic_tasks(names=[name]) == [name]  # what the worker's scheduler does when it is due
    assert run_queued_tasks(queue_names=["periodic"]) == 1
    payment.refresh_from_db()
    assert payment.status == S.CAPTURED and fulfilment_counts(payment.pk) == (1, 1, 1)


@pytest.mark.django_db
def test_metrics_show_reconciliation_results(client, user, address, mixed_cart, fake_razorpay):
    payment = open_payment(user=user, address=address)
    fake_razorpay.settle(payment.gateway_order_id)
    reconcile_open_payments()
    text = client.get("/metrics").content.decode()
    assert 'payfirst_reconcile_results_total{result="captured"}' in text
    assert 'payfirst_reconcile_results_total{result="alarms"}' in text


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_reconciliation_runs_at_once_the_second_changes_nothing(user, address, mixed_cart, fake_razorpay):
    for _ in range(3):
        Payment.objects.filter(status=S.PENDING).update(status=S.CANCELLED)
        factories.add_plan(factories.active_cart(user), factories.make_plan())
        payment = open_payment(user=user, address=address)
        fake_razorpay.settle(payment.gateway_order_id)
        barrier = threading.Barrier(2)
        results: list[Counter[str]] = []

        def run(barrier: threading.Barrier, results: list[Counter[str]]) -> None:
            try:
                barrier.wait(timeout=10)
                results.append(reconcile_open_payments())
            finally:
                connection.close()

        threads = [threading.Thread(target=run, args=(barrier, results)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(results) == 2
        assert sum(result["captured"] for result in results) == 1
        assert sum(result["errors"] for result in results) == 0
        assert Payment.objects.get(pk=payment.pk).status == S.CAPTURED
        assert PaymentEvent.objects.filter(payment=payment, to_status=S.CAPTURED).count() == 1
        assert fulfilment_counts(payment.pk)[2] == payment.lines.filter(kind="plan").count()
        assert reconcile_open_payments()["captured"] == 0
    assert_every_capture_is_fulfilled_or_refunded()


@pytest.mark.django_db
def test_a_late_capture_refunded_automatically_counts_even_when_its_refund_cannot_be_sent(user, address, fake_razorpay):
    package = factories.make_package()
    slot = factories.make_slot(package=package, capacity=1)
    factories.add_service(factories.active_cart(user), package, slot)
    payment = open_payment(user=user, address=address)
    Payment.objects.filter(pk=payment.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert reconcile_open_payments()["expired"] == 1
    from payfirst.catalog.models import Slot

    Slot.objects.filter(pk=slot.pk).update(taken=1)
    fake_razorpay.settle(payment.gateway_order_id)
    fake_razorpay.fail_next("refund", GatewayUnavailable("down"))
    assert reconcile_open_payments() == counts(checked=1, captured=1, errors=1)
    assert Refund.objects.get().status == RefundStatus.PENDING
    assert reconcile_open_payments() == counts(checked=1, refunded=1)  # the payment is captured: only its refund
    payment.refresh_from_db()
    assert payment.status == S.REFUNDED
    assert_every_capture_is_fulfilled_or_refunded()
