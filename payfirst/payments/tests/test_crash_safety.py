"""Crash safety: the process dies at each step of capture → fulfil and of a refund (an exception injected there),
then reconciliation runs. Every captured payment ends fulfilled or refunded, and nothing is doubled: one capture
event, one set of fulfilments, one refund at the gateway."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from payfirst.catalog.models import Slot
from payfirst.gateways.fake import FakeGateway
from payfirst.ops.tasks import run_queued_tasks
from payfirst.payments import refunds, services, webhooks
from payfirst.payments.models import Payment, PaymentEvent, Refund, RefundStatus, WebhookEvent, WebhookOutcome
from payfirst.payments.reconcile import reconcile_open_payments
from payfirst.payments.states import EventSource, PaymentStatus
from payfirst.payments.tests.flows import (
    assert_every_capture_is_fulfilled_or_refunded,
    fulfilment_counts,
    open_payment,
    pay,
)
from payfirst.testing import factories

S = PaymentStatus


class ProcessDied(Exception):
    """Stands for the process being killed at this point: nothing after it runs, open transactions roll back."""


def die(*args, **kwargs):
    raise ProcessDied()


def deliver_capture_webhook(fake: FakeGateway, payment: Payment) -> None:
    """The gateway's delivery (intake, in the request), then the worker processing what it queued."""
    headers, body = fake.webhook(
        event_id="ev-capture", name="payment.captured", gateway_order_id=payment.gateway_order_id
    )
    result = webhooks.receive_webhook(gateway="razorpay", headers=headers, body=body)
    if result.outcome == WebhookOutcome.QUEUED and result.webhook_event_id is not None:
        webhooks.process_webhook(webhook_event_id=result.webhook_event_id)


# The steps of record_capture's one transaction, in order, and the moment just after it commits.
CAPTURE_STEPS = {
    "before the status moves": "payfirst.payments.capture.transition",
    "while consuming the reserved stock": "payfirst.payments.capture.consume_holds",
    "while fulfilling": "payfirst.payments.capture.fulfil",
    "after commit, before the webhook is marked processed": "payfirst.payments.webhooks._finish",
}


@pytest.mark.django_db
@pytest.mark.parametrize("step", list(CAPTURE_STEPS))
def test_dying_during_capture_then_reconciling_fulfils_exactly_once(
    step, monkeypatch, user, address, mixed_cart, fake_razorpay
):
    payment = open_payment(user=user, address=address)
    fake_razorpay.settle(payment.gateway_order_id)
    with monkeypatch.context() as patched:
        patched.setattr(CAPTURE_STEPS[step], die)
        with pytest.raises(ProcessDied):
            deliver_capture_webhook(fake_razorpay, payment)
    committed = step.startswith("after commit")
    payment.refresh_from_db()
    assert payment.status == (S.CAPTURED if committed else S.PENDING)
    assert fulfilment_counts(payment.pk) == ((1, 1, 1) if committed else (0, 0, 0))

    outcome = reconcile_open_payments()
    assert outcome["captured"] == (0 if committed else 1) and outcome["alarms"] == 0
    reconcile_open_payments()
    deliver_capture_webhook(fake_razorpay, payment)  # the gateway redelivers the webhook that died with us
    payment.refresh_from_db()
    assert payment.status == S.CAPTURED and fulfilment_counts(payment.pk) == (1, 1, 1)
    assert PaymentEvent.objects.filter(payment=payment, to_status=S.CAPTURED).count() == 1
    assert_every_capture_is_fulfilled_or_refunded()


def _wrap_gateway_refund_then_die(fake: FakeGateway):
    original = fake.refund

    def refund(**kwargs):
        original(**kwargs)  # the gateway refunded; the answer never reaches us
        raise ProcessDied()

    return refund


def _die_on_gateway_call(operation: str) -> None:
    if operation == "refund":
        raise ProcessDied()


# The steps of a refund: recorded and committed → sent → answered → applied.
REFUND_STEPS = [
    "after recording, before sending",
    "inside the gateway call, before the gateway acts",
    "after the gateway refunded, before the answer is applied",
    "while applying the answer",
]


@pytest.mark.django_db
@pytest.mark.parametrize("step", REFUND_STEPS)
def test_dying_during_a_refund_then_reconciling_refunds_exactly_once(
    step, monkeypatch, user, address, mixed_cart, fake_razorpay, staff_user
):
    payment = pay(user=user, address=address, fake=fake_razorpay)
    with monkeypatch.context() as patched:
        if step == REFUND_STEPS[0]:
            patched.setattr(refunds, "send_refund", die)
        elif step == REFUND_STEPS[1]:
            patched.setattr(fake_razorpay, "on_call", _die_on_gateway_call)
        elif step == REFUND_STEPS[2]:
            patched.setattr(fake_razorpay, "refund", _wrap_gateway_refund_then_die(fake_razorpay))
        else:
            patched.setattr(refunds, "transition", die)
        with pytest.raises(ProcessDied):
            refunds.refund_payment(payment_id=payment.pk, amount=None, reason="crash test", actor_id=staff_user.pk)
    refund = Refund.objects.get()
    payment.refresh_from_db()
    assert refund.status == RefundStatus.PENDING and (payment.status, payment.refunded_amount) == (S.CAPTURED, 0)
    assert len(fake_razorpay.refunds) == (1 if step in REFUND_STEPS[2:] else 0)

    assert reconcile_open_payments()["refunded"] == 1
    assert reconcile_open_payments()["checked"] == 0
    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == RefundStatus.PROCESSED and refund.gateway_refund_id
    assert (payment.status, payment.refunded_amount) == (S.REFUNDED, payment.amount)
    assert len(fake_razorpay.refunds) == 1
    assert PaymentEvent.objects.filter(payment=payment, to_status=S.REFUNDED).count() == 1
    assert_every_capture_is_fulfilled_or_refunded()


@pytest.mark.django_db(transaction=True)
def test_dying_after_an_automatic_refund_is_recorded_then_reconciling_sends_it_once(user, address, fake_razorpay):
    package = factories.make_package()
    slot = factories.make_slot(package=package, capacity=1)
    factories.add_service(factories.active_cart(user), package, slot)
    payment = open_payment(user=user, address=address)
    Payment.objects.filter(pk=payment.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    services.expire_stale_payments()
    Slot.objects.filter(pk=slot.pk).update(taken=1)
    fake_razorpay.settle(payment.gateway_order_id)
    assert services.sync_payment(payment=payment, source=EventSource.WEBHOOK) == services.SyncOutcome.AUTO_REFUND
    # The process dies before the worker runs the queued send: the refund is recorded, nothing was sent.
    assert len(fake_razorpay.refunds) == 0
    assert reconcile_open_payments()["refunded"] == 1
    assert run_queued_tasks() >= 1  # the queued send runs later and finds nothing left to do
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == (S.REFUNDED, payment.amount)
    assert len(fake_razorpay.refunds) == 1 and Refund.objects.get().status == RefundStatus.PROCESSED
    assert_every_capture_is_fulfilled_or_refunded()


@pytest.mark.django_db
def test_a_webhook_that_died_mid_processing_is_left_in_error_and_retried(
    user, address, mixed_cart, fake_razorpay, monkeypatch
):
    payment = open_payment(user=user, address=address)
    fake_razorpay.settle(payment.gateway_order_id)
    with monkeypatch.context() as patched:
        patched.setattr("payfirst.payments.capture.fulfil", die)
        with pytest.raises(ProcessDied):
            deliver_capture_webhook(fake_razorpay, payment)
    record = WebhookEvent.objects.get()
    assert (record.outcome, record.attempts) == (WebhookOutcome.ERROR, 1) and "ProcessDied" in record.error
    assert webhooks.process_due_webhooks() == {}  # not due yet: the backoff decides when
    assert webhooks.process_due_webhooks(now=record.next_attempt_at) == {WebhookOutcome.PROCESSED: 1}
    payment.refresh_from_db()
    assert payment.status == S.CAPTURED and fulfilment_counts(payment.pk) == (1, 1, 1)
