"""The sandbox's read-only admin pages render, show the outbox with its attempts, and allow no edits."""

from __future__ import annotations

import pytest
from django.urls import reverse

from payfirst.gateways.sandbox.models import WebhookAttempt, WebhookDelivery
from payfirst.gateways.sandbox.phonepe_services import complete_order, create_order
from payfirst.gateways.sandbox.razorpay_services import create_order as create_razorpay_order
from payfirst.gateways.sandbox.razorpay_services import pay_order

pytestmark = pytest.mark.django_db

MODELS = ["webhookdelivery", "fault", "razorpayorder", "razorpayrefund", "phonepeorder", "phoneperefund"]


@pytest.fixture
def populated(quick_settle):
    order = create_razorpay_order(data={"amount": 1000, "currency": "INR"})
    pay_order(order_id=order.id, outcome="success")
    create_order(
        data={
            "merchantOrderId": "ADM-1",
            "amount": 1000,
            "paymentFlow": {"type": "PG_CHECKOUT", "merchantUrls": {"redirectUrl": "http://x.in/r"}},
        }
    )
    complete_order(merchant_order_id="ADM-1", outcome="success")
    delivery = WebhookDelivery.objects.first()
    WebhookAttempt.objects.create(
        delivery=delivery, number=1, started_at=delivery.created_at, duration_ms=12, status_code=502, error="HTTP 502"
    )
    return order, delivery


def test_admin_lists_and_details_render_read_only(admin_client, populated):
    order, delivery = populated
    for model in MODELS:
        page = admin_client.get(reverse(f"admin:sandbox_{model}_changelist"))
        assert page.status_code == 200, model
        assert admin_client.get(reverse(f"admin:sandbox_{model}_add")).status_code == 403
    detail = admin_client.get(reverse("admin:sandbox_webhookdelivery_change", args=[delivery.pk]))
    assert detail.status_code == 200 and "HTTP 502" in detail.content.decode()
    assert admin_client.get(reverse("admin:sandbox_razorpayorder_change", args=[order.id])).status_code == 200
