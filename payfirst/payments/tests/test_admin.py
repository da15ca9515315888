"""The payments admin: pages render, money and the timeline are read-only, actions go through the services."""

from __future__ import annotations

import pytest
from django.test import Client

from payfirst.payments import services
from payfirst.payments.models import Payment, PaymentEvent, WebhookEvent
from payfirst.payments.states import PaymentStatus
from payfirst.payments.webhooks import receive_webhook

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(make_user) -> Client:
    client = Client()
    client.force_login(make_user(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def payment(user, address, mixed_cart, fake_razorpay) -> Payment:
    return services.create_payment_for_cart(user=user, gateway="razorpay", shipping_address_id=address.pk).payment


def test_payment_pages_render_with_lines_and_timeline(admin_client, payment):
    assert admin_client.get("/admin/payments/payment/").status_code == 200
    page = admin_client.get(f"/admin/payments/payment/{payment.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Timeline" in html and "Created from cart" in html and payment.reference in html
    assert "Brass Diya" in html  # a payment line


def test_payment_money_cannot_be_edited_or_deleted_in_the_admin(admin_client, payment):
    admin_client.post(f"/admin/payments/payment/{payment.pk}/change/", {"amount": 1, "status": "CAPTURED"})
    payment.refresh_from_db()
    assert (payment.amount, payment.status) == (449700, PaymentStatus.PENDING)
    assert admin_client.get(f"/admin/payments/payment/{payment.pk}/delete/").status_code == 403
    assert admin_client.get("/admin/payments/payment/add/").status_code == 403


def test_payment_events_are_read_only_in_the_admin(admin_client, payment):
    event = PaymentEvent.objects.get(payment=payment)
    assert admin_client.get("/admin/payments/paymentevent/").status_code == 200
    admin_client.post(f"/admin/payments/paymentevent/{event.pk}/change/", {"detail": "rewritten"})
    assert PaymentEvent.objects.get(pk=event.pk).detail != "rewritten"
    assert admin_client.get(f"/admin/payments/paymentevent/{event.pk}/delete/").status_code == 403


def test_admin_cancel_action_goes_through_the_service_and_the_timeline(admin_client, payment):
    chosen = {"action": "cancel_pending", "_selected_action": [payment.pk]}
    confirmation = admin_client.post("/admin/payments/payment/", chosen)
    assert confirmation.status_code == 200 and "Cancel these payments?" in confirmation.content.decode()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING  # nothing until confirmed
    response = admin_client.post("/admin/payments/payment/", {**chosen, "confirmed": "yes"}, follow=True)
    assert response.status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert payment.events.filter(to_status=PaymentStatus.CANCELLED, source="admin").count() == 1


def test_admin_sync_action_captures_a_paid_payment(admin_client, payment, fake_razorpay):
    fake_razorpay.settle(payment.gateway_order_id)
    admin_client.post("/admin/payments/payment/", {"action": "sync_with_gateway", "_selected_action": [payment.pk]})
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED
    assert payment.events.get(to_status=PaymentStatus.CAPTURED).source == "admin"


def test_webhook_inbox_renders(admin_client, payment, fake_razorpay):
    headers, body = fake_razorpay.webhook(
        event_id="evt_a", name="payment.captured", gateway_order_id=payment.gateway_order_id
    )
    receive_webhook(gateway="razorpay", headers=headers, body=body)
    record = WebhookEvent.objects.get()
    assert admin_client.get("/admin/payments/webhookevent/").status_code == 200
    assert admin_client.get(f"/admin/payments/webhookevent/{record.pk}/change/").status_code == 200
    assert admin_client.get("/admin/payments/refund/").status_code == 200
    assert admin_client.get("/admin/payments/idempotencyrecord/").status_code == 200
