"""End to end over real HTTP with payfirst on a live server and the sandbox server: webhooks dropped and no
confirm → reconciliation alone fulfils; a staff refund through the real Razorpay adapter, pending at first
and processed by the sandbox's refund webhooks; and a refund the gateway failed to answer, sent again once by
the retry task and settled by its poll."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from payfirst.payments.models import Payment, Refund, RefundStatus, WebhookEvent
from payfirst.payments.reconcile import reconcile_open_payments
from payfirst.payments.refunds import retry_pending_refunds
from payfirst.payments.states import PaymentStatus
from payfirst.payments.tests.test_sandbox_e2e import assert_fulfilled, fill_mixed_cart, settle

S = PaymentStatus
pytestmark = pytest.mark.django_db(transaction=True)


def sandbox_refunds(sandbox, payment_id: int, settings) -> int:
    """How many refunds the sandbox holds for the payment (asked over Razorpay's API)."""
    gateway_payment_id = Payment.objects.get(pk=payment_id).gateway_payment_id
    return len(sandbox.refunds(gateway_payment_id, auth=(settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET)))


def pay_without_confirm(server, client, address, catalog) -> dict:
    variant, slot, plan = catalog
    fill_mixed_cart(client, variant=variant, slot=slot, plan_code=plan.code)
    payment = client.post(
        "/api/payments/create-from-cart/", json={"gateway": "razorpay", "shipping_address_id": address.pk}
    ).json()
    paid = httpx.post(f"{payment['checkout']['sandbox_checkout_url']}pay", json={"outcome": "success"}, timeout=30)
    assert paid.status_code == 200, paid.text
    return payment


def test_webhooks_dropped_and_no_confirm_reconciliation_alone_fulfils(
    server, sandbox, settings, api, user, address, catalog
):
    sandbox.arm("razorpay", "webhook_drop", count=20)
    payment = pay_without_confirm(server, api(server, user), address, catalog)
    settle(sandbox)  # the sandbox's deliveries run, and are dropped
    assert not WebhookEvent.objects.exists()
    assert Payment.objects.get(pk=payment["id"]).status == S.PENDING
    outcome = reconcile_open_payments()
    assert (outcome["captured"], outcome["fulfilled"], outcome["errors"]) == (1, 1, 0)
    record = Payment.objects.get(pk=payment["id"])
    assert record.status == S.CAPTURED and record.events.filter(source="reconcile", to_status=S.CAPTURED).exists()
    variant, slot, _plan = catalog
    assert_fulfilled(record, variant=variant, slot=slot)
    assert reconcile_open_payments()["captured"] == 0


def test_staff_refund_through_the_sandbox_processes_by_webhook(
    server, sandbox, settings, api, user, staff_user, address, catalog
):
    payment = pay_without_confirm(server, api(server, user), address, catalog)
    settle(sandbox)  # payment webhooks: captured and fulfilled
    assert Payment.objects.get(pk=payment["id"]).status == S.CAPTURED
    staff = api(server, staff_user)
    created = staff.post(
        f"/api/payments/{payment['id']}/refunds/",
        json={"amount": 99900, "reason": "Plan cancelled"},
        headers={"Idempotency-Key": "refund-plan"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "PENDING" and created.json()["gateway_refund_id"].startswith("rfnd_")
    replay = staff.post(
        f"/api/payments/{payment['id']}/refunds/",
        json={"amount": 99900, "reason": "Plan cancelled"},
        headers={"Idempotency-Key": "refund-plan"},
    )
    assert replay.json()["id"] == created.json()["id"]
    settle(sandbox)  # the sandbox settles the refund and delivers refund.created / refund.processed
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.PROCESSED and refund.processed_at is not None
    record = Payment.objects.get(pk=payment["id"])
    assert (record.status, record.refunded_amount) == (S.PARTIALLY_REFUNDED, 99900)
    assert WebhookEvent.objects.filter(event_name="refund.processed", outcome="processed").exists()
    assert sandbox_refunds(sandbox, payment["id"], settings) == 1
    listed = api(server, user).get(f"/api/payments/{payment['id']}/refunds/").json()
    assert listed["count"] == 1 and listed["results"][0]["status"] == "PROCESSED"


def test_refund_gateway_error_then_retry_sends_exactly_one(
    server, sandbox, settings, api, user, staff_user, address, catalog
):
    payment = pay_without_confirm(server, api(server, user), address, catalog)
    settle(sandbox)
    sandbox.arm("razorpay", "api_error")
    created = api(server, staff_user).post(f"/api/payments/{payment['id']}/refunds/", json={"reason": "Out of stock"})
    assert created.status_code == 201 and created.json()["status"] == "PENDING"
    refund = Refund.objects.get()
    assert refund.error and not refund.gateway_refund_id and sandbox_refunds(sandbox, payment["id"], settings) == 0
    # From here the test drives the retry door itself, in this thread; the refund's webhooks are dropped so that none
    # lands on the live server while that door holds the database (one shared connection on SQLite), and so that
    # what settles the refund is the retry task's own poll.
    sandbox.arm("razorpay", "webhook_drop", count=10)
    assert retry_pending_refunds(now=timezone.now() + timedelta(minutes=5))["errors"] == 0
    settle(sandbox)
    retry_pending_refunds(now=timezone.now() + timedelta(minutes=10))
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PROCESSED
    assert sandbox_refunds(sandbox, payment["id"], settings) == 1
    record = Payment.objects.get(pk=payment["id"])
    assert (record.status, record.refunded_amount) == (S.REFUNDED, record.amount)
