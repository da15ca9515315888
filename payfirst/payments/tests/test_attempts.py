"""The money path as the real gateways behave, against the FakeGateway: asking never moves money (a dry run changes
nothing here or at the gateway; capture is an explicit, recorded step taken only for money payfirst can fulfil),
only captured money is money (a returned authorisation is not; a second capture on a paid order is refunded), and a
failed attempt is not a failed payment (the order stays payable, the payment keeps its holds)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from payfirst.catalog.models import Slot
from payfirst.fulfilment.models import Booking, Order
from payfirst.gateways.base import AttemptStatus, GatewayStatus, GatewayUnavailable
from payfirst.ops.tasks import run_queued_tasks
from payfirst.payments import capture, services
from payfirst.payments.models import (
    AttemptDecision,
    Payment,
    PaymentAttempt,
    PaymentEvent,
    Refund,
    RefundStatus,
    ReservationState,
    WebhookOutcome,
)
from payfirst.payments.reconcile import reconcile_open_payments
from payfirst.payments.services import SyncOutcome
from payfirst.payments.states import EventSource, PaymentStatus
from payfirst.payments.tests.flows import (
    assert_every_capture_is_fulfilled_or_refunded,
    open_payment,
    pay,
    receive_and_process,
)
from payfirst.testing import factories

S = PaymentStatus
TOTAL = 449700  # mixed_cart


def timeline(payment: Payment) -> list[str]:
    return list(PaymentEvent.objects.filter(payment=payment).order_by("id").values_list("detail", flat=True))


def snapshot() -> tuple:
    """Everything a sync could change, to compare before and after a dry run."""
    return (
        list(Payment.objects.order_by("pk").values_list("pk", "status", "reservation", "gateway_payment_id")),
        PaymentEvent.objects.count(),
        PaymentAttempt.objects.count(),
        Refund.objects.count(),
        Order.objects.count(),
        Booking.objects.count(),
    )


def moved_money(fake) -> int:
    return fake.calls["capture"] + fake.calls["refund"]


# ---- 1. asking never moves money -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_dry_run_changes_nothing_here_or_at_the_gateway(user, address, mixed_cart, fake_razorpay):
    payment = open_payment(user=user, address=address)
    fake_razorpay.settle(payment.gateway_order_id, GatewayStatus.AUTHORIZED)
    before = snapshot()
    outcome = reconcile_open_payments(dry_run=True)
    assert (outcome["checked"], outcome["captured"]) == (1, 1)  # what a real run would do
    assert snapshot() == before
    assert moved_money(fake_razorpay) == 0 and fake_razorpay.calls["fetch_payment"] == 1
    assert fake_razorpay.orders[payment.gateway_order_id].attempts[0].status is AttemptStatus.AUTHORIZED


@pytest.mark.django_db(transaction=True)
def test_capture_is_recorded_as_intent_then_called_with_no_transaction_open(user, address, mixed_cart, fake_razorpay):
    payment = open_payment(user=user, address=address)
    fake_razorpay.settle(payment.gateway_order_id, GatewayStatus.AUTHORIZED)
    seen: list[tuple[bool, str]] = []

    def on_call(operation: str) -> None:
        if operation == "capture":
            row = PaymentAttempt.objects.get(payment=payment)
            seen.append((connection.in_atomic_block, row.decision))

    fake_razorpay.on_call = on_call
    assert services.sync_payment(payment=payment, source=EventSource.CONFIRM) == SyncOutcome.CAPTURED
    assert seen == [(False, AttemptDecision.CAPTURE_REQUESTED)]  # the intent was committed before the call
    payment.refresh_from_db()
    assert payment.status == S.CAPTURED and payment.reservation == ReservationState.CONSUMED
    assert PaymentAttempt.objects.get(payment=payment).decision == AttemptDecision.CAPTURED
    details = timeline(payment)
    assert any(d.startswith("Capture of fpay_") and d.endswith("requested.") for d in details)
    assert details[-1] == "Captured."
    # Replays never capture again.
    assert services.sync_payment(payment=payment, source=EventSource.WEBHOOK) == SyncOutcome.UNCHANGED
    assert fake_razorpay.calls["capture"] == 1


@pytest.mark.django_db
def test_a_capture_the_gateway_cannot_answer_keeps_the_payment_pending_and_is_retried(
    user, address, mixed_cart, fake_razorpay
):
    payment = open_payment(user=user, address=address)
    fake_razorpay.settle(payment.gateway_order_id, GatewayStatus.AUTHORIZED)
    fake_razorpay.fail_next("capture", GatewayUnavailable("timeout"))
    with pytest.raises(GatewayUnavailable):
        services.sync_payment(payment=payment, source=EventSource.WEBHOOK)
    attempt = PaymentAttempt.objects.get(payment=payment)
    assert attempt.decision == AttemptDecision.CAPTURE_REQUESTED and "timeout" in attempt.error
    assert Payment.objects.get(pk=payment.pk).status == S.PENDING
    assert services.sync_payment(payment=payment, source=EventSource.RECONCILE) == SyncOutcome.CAPTURED
    assert fake_razorpay.calls["capture"] == 2 and Order.objects.filter(payment=payment).count() == 1


@pytest.mark.django_db
def test_authorised_money_for_another_amount_is_left_uncaptured(user, address, mixed_cart, fake_razorpay):
    payment = open_payment(user=user, address=address)
    fake_razorpay.settle(payment.gateway_order_id, GatewayStatus.AUTHORIZED, amount=TOTAL - 1)
    assert services.sync_payment(payment=payment, source=EventSource.WEBHOOK) == SyncOutcome.LEFT_UNCAPTURED
    assert services.sync_payment(payment=payment, source=EventSource.RECONCILE) == SyncOutcome.LEFT_UNCAPTURED
    payment.refresh_from_db()
    assert payment.status == S.PENDING and fake_razorpay.calls["capture"] == 0
    assert PaymentAttempt.objects.get(payment=payment).decision == AttemptDecision.LEFT_UNCAPTURED
    assert sum("Not captured" in d for d in timeline(payment)) == 1  # decided once
    # Unpaid all the same: it expires on time and gives its stock back.
    Payment.objects.filter(pk=payment.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.expire_stale_payments()["expired"] == 1
    payment.refresh_from_db()
    assert payment.status == S.EXPIRED and payment.reservation == ReservationState.RELEASED
    assert fake_razorpay.calls["capture"] == 0


@pytest.mark.django_db
def test_late_authorisation_of_an_ended_payment_it_cannot_fulfil_is_left_uncaptured(
    user, other_user, address, package, fake_razorpay
):
    last_place = factories.make_slot(package=package, capacity=1)
    factories.add_service(factories.active_cart(user), package, last_place)
    payment = services.create_payment_for_cart(user=user, gateway="razorpay", shipping_address_id=None).payment
    Payment.objects.filter(pk=payment.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.expire_stale_payments()["expired"] == 1
    factories.add_service(factories.active_cart(other_user), package, last_place)
    theirs = services.create_payment_for_cart(user=other_user, gateway="razorpay", shipping_address_id=None).payment
    fake_razorpay.settle(theirs.gateway_order_id)
    services.sync_payment(payment=theirs, source=EventSource.CONFIRM)
    # The first customer's bank authorises late. A status poll must not take money payfirst cannot fulfil.
    fake_razorpay.settle(payment.gateway_order_id, GatewayStatus.AUTHORIZED)
    assert services.sync_payment(payment=payment, source=EventSource.RECONCILE) == SyncOutcome.LEFT_UNCAPTURED
    payment.refresh_from_db()
    assert payment.status == S.EXPIRED and fake_razorpay.calls["capture"] == 0
    assert not Refund.objects.filter(payment=payment).exists()  # nothing captured, nothing to refund (no fee lost)
    assert PaymentAttempt.objects.get(payment=payment).decision == AttemptDecision.LEFT_UNCAPTURED
    assert any("can no longer be fulfilled" in d for d in timeline(payment))
    assert Slot.objects.get(pk=last_place.pk).taken == 1


@pytest.mark.django_db
def test_late_authorisation_of_an_ended_payment_still_fulfillable_is_captured_and_fulfilled(
    user, address, mixed_cart, variant, fake_razorpay
):
    payment = open_payment(user=user, address=address)
    services.cancel_payment(payment_id=payment.pk, actor=user)
    fake_razorpay.settle(payment.gateway_order_id, GatewayStatus.AUTHORIZED)
    assert services.sync_payment(payment=payment, source=EventSource.RECONCILE) == SyncOutcome.CAPTURED
    payment.refresh_from_db()
    assert payment.status == S.CAPTURED and fake_razorpay.calls["capture"] == 1
    assert Order.objects.filter(payment=payment).count() == 1
    assert_every_capture_is_fulfilled_or_refunded()


# ---- 2. only captured money is money; every attempt accounted for ---------------------------------------------


@pytest.mark.django_db
def test_an_authorisation_returned_uncaptured_is_not_money(user, address, mixed_cart, fake_razorpay):
    payment = open_payment(user=user, address=address)
    fake_razorpay.add_attempt(payment.gateway_order_id, AttemptStatus.RETURNED)
    assert services.sync_payment(payment=payment, source=EventSource.WEBHOOK) == SyncOutcome.PENDING
    payment.refresh_from_db()
    assert payment.status == S.PENDING and payment.reservation == ReservationState.HELD
    assert PaymentAttempt.objects.get(payment=payment).decision == AttemptDecision.RETURNED
    assert any("never money received" in d for d in timeline(payment))


@pytest.mark.django_db
def test_a_second_capture_on_a_paid_order_is_refunded_and_never_fulfilled_twice(
    user, address, mixed_cart, fake_razorpay
):
    payment = pay(user=user, address=address, fake=fake_razorpay)
    first = payment.gateway_payment_id
    second = fake_razorpay.add_attempt(payment.gateway_order_id, AttemptStatus.CAPTURED)
    assert services.sync_payment(payment=payment, source=EventSource.WEBHOOK) == SyncOutcome.UNCHANGED
    assert services.sync_payment(payment=payment, source=EventSource.RECONCILE) == SyncOutcome.UNCHANGED
    payment.refresh_from_db()
    assert payment.gateway_payment_id == first  # the capture that holds the money stays the recorded one
    refund = Refund.objects.get(payment=payment)
    assert (refund.gateway_payment_id, refund.amount, refund.is_automatic) == (second, TOTAL, True)
    assert PaymentAttempt.objects.get(gateway_payment_id=second).decision == AttemptDecision.EXTRA_REFUNDED
    assert run_queued_tasks(queue_names=["default"]) >= 1
    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == RefundStatus.PROCESSED and fake_razorpay.calls["refund"] == 1
    assert fake_razorpay.refund_attempts[refund.reference] == second  # refunded on the duplicate, not the first
    # The payment's own money and state are untouched; it was fulfilled once.
    assert (payment.status, payment.refunded_amount) == (S.CAPTURED, 0)
    assert Order.objects.filter(payment=payment).count() == 1 and Booking.objects.filter(payment=payment).count() == 1
    assert services.sync_payment(payment=payment, source=EventSource.RECONCILE) == SyncOutcome.UNCHANGED
    assert Refund.objects.filter(payment=payment).count() == 1


@pytest.mark.django_db
def test_a_second_authorisation_on_a_paid_order_is_left_to_lapse(user, address, mixed_cart, fake_razorpay):
    payment = pay(user=user, address=address, fake=fake_razorpay)
    extra = fake_razorpay.add_attempt(payment.gateway_order_id, AttemptStatus.AUTHORIZED)
    assert services.sync_payment(payment=payment, source=EventSource.WEBHOOK) == SyncOutcome.UNCHANGED
    assert fake_razorpay.calls["capture"] == 0 and not Refund.objects.exists()
    assert PaymentAttempt.objects.get(gateway_payment_id=extra).decision == AttemptDecision.LEFT_UNCAPTURED


# ---- 4. a failed attempt is not a failed payment ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_failed_razorpay_attempt_keeps_the_payment_pending_with_its_holds(
    user, address, mixed_cart, variant, fake_razorpay
):
    payment = open_payment(user=user, address=address)
    failed = fake_razorpay.add_attempt(payment.gateway_order_id, AttemptStatus.FAILED, error_code="BAD_REQUEST_ERROR")
    assert services.sync_payment(payment=payment, source=EventSource.WEBHOOK) == SyncOutcome.PENDING
    assert services.sync_payment(payment=payment, source=EventSource.WEBHOOK) == SyncOutcome.PENDING
    payment.refresh_from_db()
    variant.refresh_from_db()
    assert payment.status == S.PENDING and payment.reservation == ReservationState.HELD and variant.reserved == 2
    notes = [d for d in timeline(payment) if failed in d]
    assert len(notes) == 1 and "BAD_REQUEST_ERROR" in notes[0] and "not a failed payment" in notes[0]
    # The bank authorises the failed attempt late: the payment is still live, so it is captured and fulfilled.
    fake_razorpay.set_attempt(payment.gateway_order_id, failed, AttemptStatus.AUTHORIZED)
    assert services.sync_payment(payment=payment, source=EventSource.WEBHOOK) == SyncOutcome.CAPTURED
    assert Order.objects.filter(payment=payment).count() == 1


@pytest.mark.django_db
def test_a_failed_attempt_then_a_retry_on_the_same_order_is_captured(user, address, mixed_cart, fake_razorpay):
    payment = open_payment(user=user, address=address)
    fake_razorpay.add_attempt(payment.gateway_order_id, AttemptStatus.FAILED)
    services.sync_payment(payment=payment, source=EventSource.WEBHOOK)
    retry = fake_razorpay.add_attempt(payment.gateway_order_id, AttemptStatus.CAPTURED)
    assert services.sync_payment(payment=payment, source=EventSource.WEBHOOK) == SyncOutcome.CAPTURED
    payment.refresh_from_db()
    assert payment.gateway_payment_id == retry and not Refund.objects.exists()


@pytest.mark.django_db
def test_phonepe_failed_attempt_inside_an_open_order_keeps_it_pending_until_the_order_ends(
    user, address, mixed_cart, fake_phonepe
):
    payment = open_payment(user=user, address=address, gateway="phonepe")
    fake_phonepe.add_attempt(payment.gateway_order_id, AttemptStatus.FAILED, error_code="PAYMENT_ERROR")
    assert services.sync_payment(payment=payment, source=EventSource.REDIRECT) == SyncOutcome.PENDING
    assert Payment.objects.get(pk=payment.pk).status == S.PENDING
    fake_phonepe.end_order(payment.gateway_order_id)  # the order itself failed: that ends the payment
    assert services.sync_payment(payment=payment, source=EventSource.WEBHOOK) == SyncOutcome.FAILED
    payment.refresh_from_db()
    assert payment.status == S.FAILED and payment.reservation == ReservationState.RELEASED


@pytest.mark.django_db
def test_a_payment_failed_webhook_leaves_the_payment_pending(user, address, mixed_cart, fake_razorpay):
    payment = open_payment(user=user, address=address)
    fake_razorpay.add_attempt(payment.gateway_order_id, AttemptStatus.FAILED, error_code="BAD_REQUEST_ERROR")
    headers, body = fake_razorpay.webhook(
        event_id="evt_failed_1", name="payment.failed", gateway_order_id=payment.gateway_order_id
    )
    assert receive_and_process(headers=headers, body=body) == WebhookOutcome.PROCESSED
    payment.refresh_from_db()
    assert payment.status == S.PENDING and payment.reservation == ReservationState.HELD
    assert any("not a failed payment" in d for d in timeline(payment))


@pytest.mark.django_db
def test_a_crash_after_the_gateway_captured_is_finished_by_the_next_sync_without_a_second_capture(
    user, address, mixed_cart, fake_razorpay, monkeypatch
):
    payment = open_payment(user=user, address=address)
    fake_razorpay.settle(payment.gateway_order_id, GatewayStatus.AUTHORIZED)

    def crash(**kwargs):
        raise RuntimeError("the process died after the capture call")

    monkeypatch.setattr(capture, "record_capture", crash)
    with pytest.raises(RuntimeError):
        services.sync_payment(payment=payment, source=EventSource.CONFIRM)
    monkeypatch.undo()
    assert Payment.objects.get(pk=payment.pk).status == S.PENDING
    assert PaymentAttempt.objects.get(payment=payment).decision == AttemptDecision.CAPTURE_REQUESTED  # the intent
    assert services.sync_payment(payment=payment, source=EventSource.RECONCILE) == SyncOutcome.CAPTURED
    assert fake_razorpay.calls["capture"] == 1 and Order.objects.filter(payment=payment).count() == 1
    assert PaymentAttempt.objects.get(payment=payment).decision == AttemptDecision.CAPTURED
