"""The real gateways' unkind behaviours, played by the sandbox server and met by payfirst's real adapters: manual
capture (a dry run moves nothing, the capture door takes the money, money payfirst cannot fulfil is left to be
auto-refunded), late authorisation, a duplicate payment on a paid order, several attempts per PhonePe order, refunds
made outside payfirst, refund states over time, refund idempotency, rate limits and refunds that fail for good.

Webhooks are dropped where a test drives the doors itself, so that what it shows is what that door did."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from payfirst.core.money import Paise
from payfirst.fulfilment.models import Booking, Order
from payfirst.gateways.base import GatewayUnavailable
from payfirst.gateways.razorpay.gateway import RazorpayGateway
from payfirst.ops.tasks import run_queued_tasks
from payfirst.payments import services
from payfirst.payments.models import (
    AttemptDecision,
    Payment,
    PaymentAttempt,
    PaymentEvent,
    Refund,
    RefundSource,
    RefundStatus,
    ReservationState,
)
from payfirst.payments.reconcile import reconcile_open_payments
from payfirst.payments.refunds import PAYMENT_ALARMS, poll_refund, refund_payment
from payfirst.payments.services import SyncOutcome
from payfirst.payments.states import EventSource, PaymentStatus
from payfirst.payments.tests.flows import assert_every_capture_is_fulfilled_or_refunded, open_payment
from payfirst.payments.webhooks import process_due_webhooks
from payfirst.testing.sandbox_server import SandboxServer

S = PaymentStatus
TOTAL = 449700  # mixed_cart
pytestmark = pytest.mark.django_db(transaction=True)


def checkout(sandbox: SandboxServer, order_id: str, outcome: str = "success") -> httpx.Response:
    """The customer on the sandbox's stand-in for Razorpay Checkout."""
    return httpx.post(f"{sandbox.razorpay}/checkout/{order_id}/pay", json={"outcome": outcome}, timeout=30)


def razorpay_api():
    return RazorpayGateway.from_settings().api


def quiet(sandbox: SandboxServer, gateway: str = "razorpay") -> None:
    sandbox.arm(gateway, "webhook_drop", count=100)


def snapshot() -> tuple:
    return (
        list(Payment.objects.order_by("pk").values_list("pk", "status", "reservation", "gateway_payment_id")),
        PaymentEvent.objects.count(),
        PaymentAttempt.objects.count(),
        Refund.objects.count(),
        Order.objects.count(),
    )


def settled_refund(sandbox: SandboxServer, refund: Refund) -> str:
    """Poll the refund through payfirst's own door (as the retry task does) until the gateway has ended it; a
    transient gateway error is simply tried again."""

    def ended() -> str | None:
        try:
            status = poll_refund(refund_id=refund.pk, source=EventSource.RECONCILE)
        except GatewayUnavailable:
            return None
        return status if status != RefundStatus.PENDING else None

    return sandbox.wait_for(ended, what=f"refund {refund.reference} to settle")


def paid(sandbox: SandboxServer, user, address) -> tuple[Payment, str]:
    payment = open_payment(user=user, address=address)
    pay_id = checkout(sandbox, payment.gateway_order_id).json()["razorpay_payment_id"]
    assert services.sync_payment(payment=payment, source=EventSource.CONFIRM) == SyncOutcome.CAPTURED
    payment.refresh_from_db()
    return payment, pay_id


# ---- 1. asking never moves money: manual capture ---------------------------------------------------------------


def test_manual_capture_a_dry_run_moves_nothing_and_the_capture_door_takes_it(
    server, sandbox, user, address, mixed_cart
):
    quiet(sandbox)
    sandbox.arm("razorpay", "manual_capture", delay_seconds=86_400)  # the auto-refund window: a day (86 s of test time)
    payment = open_payment(user=user, address=address)
    pay_id = checkout(sandbox, payment.gateway_order_id).json()["razorpay_payment_id"]
    api = razorpay_api()
    assert (api.fetch_payment(pay_id)["status"], api.fetch_payment(pay_id)["captured"]) == ("authorized", False)

    before = snapshot()
    outcome = reconcile_open_payments(dry_run=True)
    assert (outcome["checked"], outcome["captured"]) == (1, 1)  # it says what a real run would do ...
    assert snapshot() == before  # ... and changes nothing here
    held = api.fetch_payment(pay_id)
    assert (held["status"], held["captured"]) == ("authorized", False)  # ... nor at the gateway

    assert services.sync_payment(payment=payment, source=EventSource.CONFIRM) == SyncOutcome.CAPTURED
    assert api.fetch_payment(pay_id)["captured"] is True
    payment.refresh_from_db()
    assert (payment.status, payment.gateway_payment_id) == (S.CAPTURED, pay_id)
    assert PaymentAttempt.objects.get(payment=payment).decision == AttemptDecision.CAPTURED
    assert Order.objects.filter(payment=payment).count() == 1


def test_manual_capture_for_a_payment_that_cannot_be_fulfilled_is_left_to_the_gateway_to_return(
    server, sandbox, user, address, mixed_cart
):
    quiet(sandbox)
    sandbox.arm("razorpay", "manual_capture", delay_seconds=1500)  # 1.5 s of test time
    old = open_payment(user=user, address=address)
    services.cancel_payment(payment_id=old.pk, actor=user)
    newer = open_payment(user=user, address=address)  # the cart moved on to a new payment
    pay_id = checkout(sandbox, old.gateway_order_id).json()["razorpay_payment_id"]  # a stale tab pays the old one

    assert services.sync_payment(payment=old, source=EventSource.RECONCILE) == SyncOutcome.LEFT_UNCAPTURED
    api = razorpay_api()
    assert api.fetch_payment(pay_id)["captured"] is False  # not taken: no fee, no refund needed
    assert PaymentAttempt.objects.get(payment=old).decision == AttemptDecision.LEFT_UNCAPTURED

    returned = sandbox.wait_for(
        lambda: (entity := api.fetch_payment(pay_id))["status"] == "refunded" and entity, what="the auto-refund"
    )
    assert (returned["captured"], returned["amount_refunded"]) == (False, TOTAL)
    services.sync_payment(payment=old, source=EventSource.RECONCILE)
    old.refresh_from_db()
    assert old.status == S.CANCELLED and not Refund.objects.exists()
    assert PaymentAttempt.objects.get(payment=old).decision == AttemptDecision.RETURNED
    assert Payment.objects.get(pk=newer.pk).status == S.PENDING


# ---- 4. late authorisation -------------------------------------------------------------------------------------


def test_late_authorisation_keeps_the_payment_pending_then_captures_it(
    server, sandbox, user, address, mixed_cart, variant
):
    quiet(sandbox)
    sandbox.arm("razorpay", "late_authorization", delay_seconds=1500)
    payment = open_payment(user=user, address=address)
    answer = checkout(sandbox, payment.gateway_order_id)
    assert answer.status_code == 400  # Checkout tells the customer it failed
    late_id = answer.json()["error"]["metadata"]["payment_id"]

    assert services.sync_payment(payment=payment, source=EventSource.WEBHOOK) == SyncOutcome.PENDING
    payment.refresh_from_db()
    variant.refresh_from_db()
    assert (payment.status, payment.reservation, variant.reserved) == (S.PENDING, ReservationState.HELD, 2)
    assert PaymentEvent.objects.filter(payment=payment, detail__contains=f"Attempt {late_id} failed").count() == 1

    api = razorpay_api()
    sandbox.wait_for(lambda: api.fetch_payment(late_id)["status"] == "captured", what="the late authorisation")
    assert services.sync_payment(payment=payment, source=EventSource.RECONCILE) == SyncOutcome.CAPTURED
    payment.refresh_from_db()
    assert (payment.status, payment.gateway_payment_id) == (S.CAPTURED, late_id)
    assert Order.objects.filter(payment=payment).count() == 1 and Booking.objects.filter(payment=payment).count() == 1


# ---- 2. only captured money is money: a duplicate payment on a paid order --------------------------------------


def test_a_duplicate_payment_auto_refunded_uncaptured_is_accounted_for_and_never_fulfilled(
    server, sandbox, user, address, mixed_cart
):
    quiet(sandbox)
    sandbox.arm("razorpay", "duplicate_payment")
    payment, pay_id = paid(sandbox, user, address)
    assert payment.gateway_payment_id == pay_id  # the capture that holds the money, not the later duplicate
    [duplicate] = PaymentAttempt.objects.filter(payment=payment).exclude(gateway_payment_id=pay_id)
    assert duplicate.decision == AttemptDecision.RETURNED
    assert not Refund.objects.exists()  # Razorpay gave it back uncaptured: nothing of ours to refund
    assert Order.objects.filter(payment=payment).count() == 1
    assert services.sync_payment(payment=payment, source=EventSource.RECONCILE) == SyncOutcome.UNCHANGED
    assert_every_capture_is_fulfilled_or_refunded()


# ---- 4. several attempts per PhonePe order ---------------------------------------------------------------------


def test_phonepe_failed_attempt_then_success_inside_the_same_order(server, sandbox, user, address, mixed_cart):
    quiet(sandbox, "phonepe")
    sandbox.arm("phonepe", "failed_attempt")
    payment = open_payment(user=user, address=address, gateway="phonepe")
    pay_page = payment.checkout["redirect_url"]
    httpx.post(f"{pay_page}complete", json={"outcome": "success"}, timeout=30)  # this attempt fails
    assert services.sync_payment(payment=payment, source=EventSource.REDIRECT) == SyncOutcome.PENDING
    assert Payment.objects.get(pk=payment.pk).status == S.PENDING
    assert PaymentEvent.objects.filter(payment=payment, detail__contains="not a failed payment").count() == 1

    httpx.post(f"{pay_page}complete", json={"outcome": "success"}, timeout=30)  # the customer tries again
    assert services.sync_payment(payment=payment, source=EventSource.REDIRECT) == SyncOutcome.CAPTURED
    assert PaymentAttempt.objects.filter(payment=payment).count() == 2
    assert Order.objects.filter(payment=payment).count() == 1


# ---- 5. refunds made outside payfirst; refund idempotency ------------------------------------------------------


def test_a_dashboard_refund_is_recorded_and_a_staff_refund_takes_only_the_rest(
    server, sandbox, user, address, mixed_cart
):
    quiet(sandbox)
    payment, pay_id = paid(sandbox, user, address)
    api = razorpay_api()
    # Made in the Dashboard: no receipt of ours.
    outside = api.refund(pay_id, {"amount": 100000, "speed": "normal"}, idempotency_key="dashboard-refund-0001")
    sandbox.wait_for(lambda: api.fetch_refund(outside["id"])["status"] == "processed", what="the dashboard refund")
    before = PAYMENT_ALARMS.labels("outside_refund")._value.get()

    assert reconcile_open_payments()["outside_refunds"] == 1
    recorded = Refund.objects.get()
    assert (recorded.source, recorded.gateway_refund_id, recorded.status) == (
        RefundSource.GATEWAY,
        outside["id"],
        RefundStatus.PROCESSED,
    )
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == (S.PARTIALLY_REFUNDED, 100000)
    assert PAYMENT_ALARMS.labels("outside_refund")._value.get() == before + 1

    rest = refund_payment(payment_id=payment.pk, amount=None, reason="the rest", actor_id=None)
    assert rest.amount == TOTAL - 100000
    assert settled_refund(sandbox, rest) == RefundStatus.PROCESSED
    # Sent again under the same reference (the X-Refund-Idempotency key), the gateway makes no second refund.
    gateway = RazorpayGateway.from_settings()
    gateway.refund(
        gateway_order_id=payment.gateway_order_id,
        gateway_payment_id=pay_id,
        amount=Paise(rest.amount),
        reference=rest.reference,
    )
    auth = (gateway.config.key_id, gateway.config.key_secret)
    amounts = sorted(item["amount"] for item in sandbox.refunds(pay_id, auth=auth))
    assert amounts == [100000, TOTAL - 100000]
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == (S.REFUNDED, TOTAL)
    assert reconcile_open_payments()["outside_refunds"] == 0


def test_a_dashboard_refund_reaches_payfirst_by_its_webhook(server, sandbox, user, address, mixed_cart):
    quiet(sandbox)  # the payment is captured through the confirm door alone
    payment, pay_id = paid(sandbox, user, address)
    sandbox.wait_idle()
    sandbox.reset()  # webhooks flow again: the refund's reach payfirst
    api = razorpay_api()
    api.refund(pay_id, {"amount": 50000, "speed": "normal"}, idempotency_key="dashboard-refund-0002")
    # refund.created, then refund.processed once the refund settles: wait until payfirst has answered the latter.
    sandbox.wait_for(
        lambda: sandbox.deliveries(gateway="razorpay", event="refund.processed", state="delivered"),
        timeout=60,
        what="refund.processed to be delivered",
    )
    # Nothing else in flight: on SQLite a delivery arriving while this thread drains the queue would share its
    # connection (the live server's thread uses the test's in-memory database).
    sandbox.wait_idle()

    def recorded() -> bool:
        # What the worker does: the queued deliveries, and any delivery whose processing is due again (brought
        # forward: a refund read back while still pending at the gateway is asked again on the retry schedule).
        run_queued_tasks()
        process_due_webhooks(now=timezone.now() + timedelta(hours=2))
        return Refund.objects.filter(payment=payment, status=RefundStatus.PROCESSED).exists()

    sandbox.wait_for(recorded, timeout=60, what="the dashboard refund to be recorded")
    refund = Refund.objects.get(payment=payment)
    assert (refund.source, refund.status, refund.amount) == (RefundSource.GATEWAY, RefundStatus.PROCESSED, 50000)
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == (S.PARTIALLY_REFUNDED, 50000)


# ---- 6. refunds over time, rate limits, refunds that fail for good ---------------------------------------------


def test_phonepe_refund_moves_through_its_states_to_completed(server, sandbox, user, address, mixed_cart):
    quiet(sandbox, "phonepe")
    payment = open_payment(user=user, address=address, gateway="phonepe")
    httpx.post(f"{payment.checkout['redirect_url']}complete", json={"outcome": "success"}, timeout=30)
    assert services.sync_payment(payment=payment, source=EventSource.REDIRECT) == SyncOutcome.CAPTURED
    refund = refund_payment(payment_id=payment.pk, amount=10000, reason="goodwill", actor_id=None)
    assert refund.status in (RefundStatus.PENDING, RefundStatus.PROCESSED)  # PENDING, then CONFIRMED, then done
    assert settled_refund(sandbox, refund) == RefundStatus.PROCESSED
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == (S.PARTIALLY_REFUNDED, 10000)


def test_a_rate_limited_refund_stays_pending_and_is_sent_once_later(server, sandbox, user, address, mixed_cart):
    quiet(sandbox)
    payment, pay_id = paid(sandbox, user, address)
    sandbox.arm("razorpay", "rate_limit", count=2)  # the receipt lookup and the refund itself answer 429
    refund = refund_payment(payment_id=payment.pk, amount=10000, reason="goodwill", actor_id=None)
    assert refund.status == RefundStatus.PENDING and "429" in refund.error  # transient: not failed
    assert settled_refund(sandbox, refund) == RefundStatus.PROCESSED
    gateway = RazorpayGateway.from_settings()
    listed = sandbox.refunds(pay_id, auth=(gateway.config.key_id, gateway.config.key_secret))
    assert [item["amount"] for item in listed] == [10000]


def test_a_refund_the_gateway_fails_ends_failed_with_an_alarm_and_the_amount_is_refundable_again(
    server, sandbox, user, address, mixed_cart
):
    quiet(sandbox)
    payment, _pay_id = paid(sandbox, user, address)
    sandbox.arm("razorpay", "refund_failure")
    before = PAYMENT_ALARMS.labels("refund_failed")._value.get()
    refund = refund_payment(payment_id=payment.pk, amount=10000, reason="goodwill", actor_id=None)
    assert settled_refund(sandbox, refund) == RefundStatus.FAILED
    assert PAYMENT_ALARMS.labels("refund_failed")._value.get() == before + 1
    again = refund_payment(payment_id=payment.pk, amount=None, reason="all of it", actor_id=None)
    assert again.amount == TOTAL  # the failed refund holds nothing
    assert settled_refund(sandbox, again) == RefundStatus.PROCESSED
    assert Payment.objects.get(pk=payment.pk).status == S.REFUNDED
