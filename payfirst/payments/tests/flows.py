"""Test flows shared by the refund, reconciliation and crash-safety tests: pay a cart through a FakeGateway, make a
refund stay pending at the gateway, and the invariant every captured payment must end in."""

from __future__ import annotations

import dataclasses

from payfirst.fulfilment.models import Booking, Order, Subscription
from payfirst.gateways.base import GatewayRefund, GatewayStatus, RefundStatus
from payfirst.gateways.fake import FakeGateway
from payfirst.payments import services, webhooks
from payfirst.payments.models import Payment, Refund, WebhookOutcome
from payfirst.payments.models import RefundStatus as OurRefundStatus
from payfirst.payments.states import EventSource, PaymentStatus

S = PaymentStatus


def open_payment(*, user, address, gateway: str = "razorpay") -> Payment:
    return services.create_payment_for_cart(user=user, gateway=gateway, shipping_address_id=address.pk).payment


def receive_and_process(*, headers: dict[str, str], body: bytes, gateway: str = "razorpay") -> str:
    """A delivery as the gateway makes it (intake, in the request) and, when intake queued it, the worker processing
    it; returns the last outcome (processed, ignored, error; or intake's duplicate, ignored, invalid_signature)."""
    result = webhooks.receive_webhook(gateway=gateway, headers=headers, body=body)
    if result.outcome != WebhookOutcome.QUEUED or result.webhook_event_id is None:
        return result.outcome
    return webhooks.process_webhook(webhook_event_id=result.webhook_event_id)


def pay(*, user, address, fake: FakeGateway) -> Payment:
    """A cart paid and captured through the confirm door: CAPTURED and fulfilled."""
    payment = open_payment(user=user, address=address, gateway=fake.name)
    fake.settle(payment.gateway_order_id, GatewayStatus.CAPTURED)
    services.sync_payment(payment=payment, source=EventSource.CONFIRM)
    payment.refresh_from_db()
    assert payment.status == S.CAPTURED
    return payment


def hold_refunds_pending(fake: FakeGateway) -> None:
    """From now on the fake gateway answers new refunds as pending (a "normal speed" refund); settle_refund decides."""
    original = fake.refund

    def refund(**kwargs) -> GatewayRefund:
        answer = original(**kwargs)
        if answer.status is RefundStatus.PROCESSED and kwargs["reference"] not in decided:
            answer = dataclasses.replace(answer, status=RefundStatus.PENDING)
            fake.refunds[answer.reference] = answer
        return answer

    decided: set[str] = set()
    fake.refund = refund  # type: ignore[method-assign]
    fake.decided = decided  # type: ignore[attr-defined]


def settle_refund(fake: FakeGateway, reference: str, status: RefundStatus = RefundStatus.PROCESSED) -> None:
    """The gateway finishes a pending refund."""
    fake.refunds[reference] = dataclasses.replace(fake.refunds[reference], status=status)
    decided: set[str] = getattr(fake, "decided", set())  # set by hold_refunds_pending
    decided.add(reference)


def fulfilment_counts(payment_id: int) -> tuple[int, int, int]:
    return (
        Order.objects.filter(payment_id=payment_id).count(),
        Booking.objects.filter(payment_id=payment_id).count(),
        Subscription.objects.filter(payment_id=payment_id).count(),
    )


def assert_every_capture_is_fulfilled_or_refunded() -> None:
    """DESIGN.md invariant 2, and nothing doubled: each captured-like payment has its fulfilment exactly once, or
    refunds that add up to no more than its amount (processed ones to its refunded_amount)."""
    for payment in Payment.objects.filter(status__in=[S.CAPTURED, S.PARTIALLY_REFUNDED, S.REFUNDED]):
        orders, bookings, subscriptions = fulfilment_counts(payment.pk)
        assert orders <= 1 and subscriptions <= payment.lines.filter(kind="plan").count()
        assert bookings <= payment.lines.filter(kind="service").count()
        refunds = Refund.objects.filter(payment=payment)
        processed = sum(r.amount for r in refunds if r.status == OurRefundStatus.PROCESSED)
        holding = sum(r.amount for r in refunds if r.status != OurRefundStatus.FAILED)
        assert processed == payment.refunded_amount and holding <= payment.amount
        fulfilled = orders + bookings + subscriptions > 0
        assert fulfilled or processed == payment.amount, f"{payment} captured without fulfilment or refund"
