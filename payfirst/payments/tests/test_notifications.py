"""The customer's emails from payments: a confirmation per capture listing what it fulfilled, a refund-processed
email and a booking-cancelled email, each recorded with its event and sent once however often the event arrives."""

from __future__ import annotations

import pytest
from django.core import mail

from payfirst.fulfilment.models import Booking, Order, Subscription
from payfirst.gateways.base import EventKind, GatewayStatus
from payfirst.notifications.models import Notification, NotificationStatus
from payfirst.ops.tasks import run_queued_tasks
from payfirst.payments import services
from payfirst.payments.refunds import refund_payment
from payfirst.payments.states import EventSource, PaymentStatus
from payfirst.payments.tests.test_webhooks import deliver
from payfirst.payments.webhooks import receive_webhook

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pending(user, address, mixed_cart, fake_razorpay):
    return services.create_payment_for_cart(user=user, gateway="razorpay", shipping_address_id=address.pk).payment


def test_a_capture_delivered_three_times_sends_one_confirmation(pending, fake_razorpay, settings, user):
    settings.FRONTEND_BASE_URL = "https://shop.example.in"
    fake_razorpay.settle(pending.gateway_order_id, GatewayStatus.CAPTURED)
    # The browser's confirm, then the gateway's payment.captured and order.paid webhooks.
    assert services.sync_payment(payment=pending, source=EventSource.CONFIRM) == "captured"
    for event_id, name in (("evt_cap", "payment.captured"), ("evt_paid", "order.paid")):
        response = deliver(
            *fake_razorpay.webhook(event_id=event_id, name=name, gateway_order_id=pending.gateway_order_id)
        )
        assert response.status_code == 200
    run_queued_tasks()
    run_queued_tasks()  # nothing left: a second drain sends nothing more

    pending.refresh_from_db()
    assert pending.status == PaymentStatus.CAPTURED
    row = Notification.objects.get()
    assert (row.key, row.kind, row.status, row.attempts) == (f"capture:{pending.pk}", "payment_confirmed", "SENT", 1)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    order = Order.objects.get(payment=pending)
    booking = Booking.objects.get(payment=pending)
    subscription = Subscription.objects.get(payment=pending)
    assert message.to == [user.email] and message.subject == f"Payment {pending.reference} received: ₹4,497.00"
    for expected in (
        order.order_number,
        booking.book_id,
        booking.selected_date.isoformat(),
        booking.selected_time.strftime("%H:%M"),
        subscription.plan_code,
        "x 2: ₹998.00",
        "₹2,500.00",
        f"https://shop.example.in/confirmbooking?payment_id={pending.pk}",
    ):
        assert expected in message.body, expected


def test_a_refund_processed_and_its_cancelled_booking_are_told_once_each(pending, fake_razorpay, staff_user, user):
    fake_razorpay.settle(pending.gateway_order_id, GatewayStatus.CAPTURED)
    services.sync_payment(payment=pending, source=EventSource.CONFIRM)
    refund = refund_payment(
        payment_id=pending.pk, amount=None, reason="Puja postponed", actor_id=staff_user.pk, cancel_fulfilment=True
    )
    assert refund.status == "PROCESSED"
    # The gateway's refund.processed webhook for the same refund changes nothing.
    headers, body = fake_razorpay.webhook(
        event_id="evt_rfnd",
        name="refund.processed",
        kind=EventKind.REFUND,
        extra={"refund_reference": refund.reference, "refund_id": refund.gateway_refund_id, "status": "processed"},
    )
    receive_webhook(gateway="razorpay", headers=headers, body=body)
    run_queued_tasks()

    booking = Booking.objects.get(payment=pending)
    keys = sorted(Notification.objects.values_list("key", flat=True))
    assert keys == sorted([f"capture:{pending.pk}", f"refund:{refund.pk}", f"booking-cancelled:{booking.pk}"])
    assert set(Notification.objects.values_list("status", flat=True)) == {NotificationStatus.SENT}
    subjects = sorted(message.subject for message in mail.outbox)
    assert subjects == sorted(
        [
            f"Payment {pending.reference} received: ₹4,497.00",
            f"Refund of ₹4,497.00 processed for payment {pending.reference}",
            f"Booking {booking.book_id} cancelled",
        ]
    )
    refund_mail = next(m for m in mail.outbox if m.subject.startswith("Refund"))
    assert "Puja postponed" in refund_mail.body and "₹4,497.00 of ₹4,497.00" in refund_mail.body
