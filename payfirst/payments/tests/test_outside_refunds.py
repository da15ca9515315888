"""Refunds as the real gateways do them, against the FakeGateway: a refund made in the gateway's dashboard is learned
from its webhook or from reconciliation, recorded (source gateway), moves the payment and alarms; a later staff
refund sees only the rest. A refund below 100 paise is refused at once, one the gateway refuses for good ends FAILED
with its reason and an alarm, and one the gateway never answers is retried with capped backoff, then given up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from payfirst.gateways.base import EventKind, GatewayRejected, GatewayUnavailable
from payfirst.gateways.base import RefundStatus as GatewayRefundStatus
from payfirst.payments import services
from payfirst.payments.models import Payment, PaymentEvent, Refund, RefundSource, RefundStatus, WebhookOutcome
from payfirst.payments.reconcile import reconcile_open_payments
from payfirst.payments.refunds import PAYMENT_ALARMS, refund_payment, retry_delay, retry_pending_refunds
from payfirst.payments.states import EventSource, PaymentStatus
from payfirst.payments.tests.flows import (
    assert_every_capture_is_fulfilled_or_refunded,
    open_payment,
    pay,
    receive_and_process,
)

S = PaymentStatus
TOTAL = 449700  # mixed_cart


def alarms(name: str) -> float:
    return PAYMENT_ALARMS.labels(name)._value.get()


@pytest.fixture
def captured(user, address, mixed_cart, fake_razorpay) -> Payment:
    return pay(user=user, address=address, fake=fake_razorpay)


# ---- 5. refunds made outside payfirst --------------------------------------------------------------------------


@pytest.mark.django_db
def test_reconciliation_records_a_dashboard_refund_and_a_staff_refund_then_takes_the_rest(
    captured, fake_razorpay, staff_client
):
    before = alarms("outside_refund")
    outside = fake_razorpay.refund_outside(captured.gateway_order_id, 100000)
    # A dry run counts it and records nothing.
    assert reconcile_open_payments(dry_run=True)["outside_refunds"] == 1
    assert not Refund.objects.exists()
    assert reconcile_open_payments()["outside_refunds"] == 1
    refund = Refund.objects.get()
    assert (refund.source, refund.gateway_refund_id, refund.amount, refund.status) == (
        RefundSource.GATEWAY,
        outside.gateway_refund_id,
        100000,
        RefundStatus.PROCESSED,
    )
    captured.refresh_from_db()
    assert (captured.status, captured.refunded_amount) == (S.PARTIALLY_REFUNDED, 100000)
    assert alarms("outside_refund") == before + 1
    assert PaymentEvent.objects.filter(payment=captured, detail__contains="outside payfirst").exists()
    assert reconcile_open_payments()["outside_refunds"] == 0  # once
    # It appears in the refunds list, and a staff refund of "the rest" is the rest, and it processes.
    listing = staff_client.get(f"/api/payments/{captured.pk}/refunds/").json()
    assert [r["gateway_refund_id"] for r in listing["results"]] == [outside.gateway_refund_id]
    rest = staff_client.post(f"/api/payments/{captured.pk}/refunds/", {"reason": "the rest"}, format="json")
    assert rest.status_code == 201 and (rest.json()["amount"], rest.json()["status"]) == (TOTAL - 100000, "PROCESSED")
    captured.refresh_from_db()
    assert (captured.status, captured.refunded_amount) == (S.REFUNDED, TOTAL)
    assert_every_capture_is_fulfilled_or_refunded()


@pytest.mark.django_db
def test_a_refund_webhook_for_a_refund_payfirst_never_made_records_it(captured, fake_razorpay):
    outside = fake_razorpay.refund_outside(captured.gateway_order_id, TOTAL)
    headers, body = fake_razorpay.webhook(
        event_id="evt_outside_1",
        name="refund.processed",
        kind=EventKind.REFUND,
        extra={"refund_id": outside.gateway_refund_id, "payment_id": captured.gateway_payment_id, "amount": TOTAL},
    )
    assert receive_and_process(headers=headers, body=body) == WebhookOutcome.PROCESSED  # no longer "ignored"
    refund = Refund.objects.get()
    assert refund.source == RefundSource.GATEWAY and refund.status == RefundStatus.PROCESSED
    captured.refresh_from_db()
    assert (captured.status, captured.refunded_amount) == (S.REFUNDED, TOTAL)
    # Reconciliation agrees: nothing more to record.
    assert reconcile_open_payments()["outside_refunds"] == 0 and Refund.objects.count() == 1


@pytest.mark.django_db
def test_a_phonepe_refund_callback_for_an_outside_refund_is_read_back_and_recorded(
    user, address, mixed_cart, fake_phonepe
):
    payment = pay(user=user, address=address, fake=fake_phonepe)
    outside = fake_phonepe.refund_outside(payment.gateway_order_id, 50000)
    headers, body = fake_phonepe.webhook(
        event_id="pg.refund.completed:X",
        name="pg.refund.completed",
        kind=EventKind.REFUND,
        gateway_order_id=payment.gateway_order_id,
        extra={"refund_id": outside.gateway_refund_id, "refund_reference": outside.gateway_refund_id},
    )
    assert receive_and_process(gateway="phonepe", headers=headers, body=body) == WebhookOutcome.PROCESSED
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == (S.PARTIALLY_REFUNDED, 50000)
    assert Refund.objects.get().source == RefundSource.GATEWAY


@pytest.mark.django_db
def test_a_refund_that_failed_at_the_gateway_is_not_recorded_as_money_back(captured, fake_razorpay):
    fake_razorpay.refund_outside(captured.gateway_order_id, 5000, status=GatewayRefundStatus.FAILED)
    assert reconcile_open_payments()["outside_refunds"] == 0
    assert not Refund.objects.exists() and Payment.objects.get(pk=captured.pk).status == S.CAPTURED


# ---- 6. refunds that can never succeed end ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_refund_below_100_paise_is_refused_at_once(captured, fake_razorpay, staff_client):
    response = staff_client.post(f"/api/payments/{captured.pk}/refunds/", {"amount": 99, "reason": "x"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_amount"
    assert not Refund.objects.exists() and fake_razorpay.calls["refund"] == 0
    ok = staff_client.post(f"/api/payments/{captured.pk}/refunds/", {"amount": 100, "reason": "x"}, format="json")
    assert ok.status_code == 201


@pytest.mark.django_db
def test_a_refund_the_gateway_refuses_for_good_fails_with_its_reason_and_alarms(captured, fake_razorpay):
    before = alarms("refund_failed")
    fake_razorpay.fail_next("refund", GatewayRejected("The refund amount provided is greater than amount captured"))
    refund = refund_payment(payment_id=captured.pk, amount=10000, reason="goodwill", actor_id=None)
    assert refund.status == RefundStatus.FAILED and "greater than amount captured" in refund.error
    assert alarms("refund_failed") == before + 1
    assert PaymentEvent.objects.filter(payment=captured, detail__contains="failed").exists()
    captured.refresh_from_db()
    assert (captured.status, captured.refunded_amount) == (S.CAPTURED, 0)
    # Never retried: it has ended.
    assert retry_pending_refunds(now=timezone.now() + timedelta(days=1)) == {}
    assert fake_razorpay.calls["refund"] == 1


@pytest.mark.django_db
def test_a_refund_the_gateway_never_answers_is_retried_with_backoff_then_given_up(captured, fake_razorpay, settings):
    settings.REFUND_MAX_ATTEMPTS = 3
    before = alarms("refund_given_up")
    fake_razorpay.fail_next("refund", GatewayUnavailable("Razorpay did not answer"), times=100)
    refund = refund_payment(payment_id=captured.pk, amount=10000, reason="goodwill", actor_id=None)
    assert refund.status == RefundStatus.PENDING and refund.attempts == 1
    now = timezone.now()
    for _ in range(5):
        now += timedelta(hours=2)  # past any backoff
        retry_pending_refunds(now=now)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.FAILED and refund.attempts == 3 and "Given up after 3" in refund.error
    assert fake_razorpay.calls["refund"] == 3 and alarms("refund_given_up") == before + 1


def test_retry_delay_follows_the_settings(settings):
    settings.REFUND_RETRY_FIRST_SECONDS = 10
    settings.REFUND_RETRY_MAX_SECONDS = 60
    assert [retry_delay(attempts=n).total_seconds() for n in (1, 2, 3, 4, 5, 60)] == [10, 20, 40, 60, 60, 60]


@pytest.mark.django_db
def test_a_flagged_payment_refunded_in_the_dashboard_is_recorded_refunded(user, address, mixed_cart, fake_razorpay):
    payment = open_payment(user=user, address=address)
    fake_razorpay.settle(payment.gateway_order_id, amount=TOTAL - 100)  # paid the wrong amount: FLAGGED
    services.sync_payment(payment=payment, source=EventSource.WEBHOOK)
    assert Payment.objects.get(pk=payment.pk).status == S.FLAGGED
    fake_razorpay.refund_outside(payment.gateway_order_id, TOTAL - 100)  # staff refund it at the gateway
    assert reconcile_open_payments(since=timezone.now() - timedelta(days=3))["outside_refunds"] == 1
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == (S.REFUNDED, TOTAL - 100)
    assert Refund.objects.get(payment=payment).source == RefundSource.GATEWAY
