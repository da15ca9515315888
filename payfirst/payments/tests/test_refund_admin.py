"""The operator's side of refunds and reconciliation in the admin: refund the rest, reconcile one payment now, and
the payment page's fulfilments beside its timeline."""

from __future__ import annotations

import pytest
from django.test import Client

from payfirst.gateways.base import GatewayUnavailable
from payfirst.payments.models import Payment, PaymentEvent, Refund, RefundStatus
from payfirst.payments.states import PaymentStatus
from payfirst.payments.tests.flows import hold_refunds_pending, open_payment, pay, settle_refund

S = PaymentStatus
pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(make_user):
    return make_user(is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(operator) -> Client:
    client = Client()
    client.force_login(operator)
    return client


CONFIRMED_ACTIONS = ("refund_rest", "refund_rest_and_cancel", "cancel_pending")


def act(client: Client, action: str, payment: Payment) -> str:
    """Choose the action; for one that moves money or cancels, confirm it on the page it shows first."""
    chosen = {"action": action, "_selected_action": [payment.pk]}
    if action in CONFIRMED_ACTIONS:
        before = list(Refund.objects.values_list("pk", "status"))
        confirmation = client.post("/admin/payments/payment/", chosen)
        page = confirmation.content.decode()
        assert confirmation.status_code == 200 and 'name="confirmed" value="yes"' in page and payment.reference in page
        assert list(Refund.objects.values_list("pk", "status")) == before  # nothing done yet
        chosen = {**chosen, "confirmed": "yes", "reason": "Refunded in full from the admin."}
    response = client.post("/admin/payments/payment/", chosen, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def test_refund_action_refunds_the_rest_and_lands_in_the_timeline(
    admin_client, operator, user, address, mixed_cart, fake_razorpay
):
    payment = pay(user=user, address=address, fake=fake_razorpay)
    page = act(admin_client, "refund_rest", payment)
    refund = Refund.objects.get()
    assert f"refund {refund.reference} of ₹4,497.00 is processed" in page
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == (S.REFUNDED, payment.amount)
    event = PaymentEvent.objects.filter(payment=payment).order_by("-id").first()
    assert event is not None
    assert (event.to_status, event.source) == (S.REFUNDED, "admin")
    assert refund.requested_by == operator
    assert "At most 0 paise of this payment can still be refunded" in act(admin_client, "refund_rest", payment)
    assert Refund.objects.count() == 1 and len(fake_razorpay.refunds) == 1


def test_refund_action_with_the_gateway_down_says_it_will_retry(admin_client, user, address, mixed_cart, fake_razorpay):
    payment = pay(user=user, address=address, fake=fake_razorpay)
    fake_razorpay.fail_next("refund", GatewayUnavailable("timed out"))
    page = act(admin_client, "refund_rest", payment)
    assert "is pending" in page and "sent again automatically" in page
    assert Refund.objects.get().status == RefundStatus.PENDING


def test_refund_action_on_a_pending_payment_is_refused(admin_client, user, address, mixed_cart, fake_razorpay):
    payment = open_payment(user=user, address=address)
    assert "only captured money is refunded" in act(admin_client, "refund_rest", payment)
    assert not Refund.objects.exists()


def test_reconcile_now_captures_and_reads_back_pending_refunds(admin_client, user, address, mixed_cart, fake_razorpay):
    payment = open_payment(user=user, address=address)
    fake_razorpay.settle(payment.gateway_order_id)
    assert "captured, fulfilled" in act(admin_client, "reconcile_now", payment)
    assert PaymentEvent.objects.filter(payment=payment, to_status=S.CAPTURED, source="admin").exists()
    hold_refunds_pending(fake_razorpay)
    act(admin_client, "refund_rest", payment)
    settle_refund(fake_razorpay, Refund.objects.get().reference)
    assert "unchanged, refunded" in act(admin_client, "reconcile_now", payment)
    payment.refresh_from_db()
    assert payment.status == S.REFUNDED
    fake_razorpay.fail_next("fetch_payment", GatewayUnavailable("down"))
    assert "the gateway did not answer" in act(admin_client, "reconcile_now", payment)


def test_payment_page_shows_its_fulfilments_and_refunds(admin_client, user, address, mixed_cart, fake_razorpay):
    payment = pay(user=user, address=address, fake=fake_razorpay)
    act(admin_client, "refund_rest", payment)
    page = admin_client.get(f"/admin/payments/payment/{payment.pk}/change/").content.decode()
    assert "booking BK-" in page and "subscription " in page and "order " in page
    assert Refund.objects.get().reference in page


def test_refund_and_cancel_action_gives_stock_and_places_back(
    admin_client, user, address, mixed_cart, variant, slot, fake_razorpay
):
    payment = pay(user=user, address=address, fake=fake_razorpay)
    assert "is processed" in act(admin_client, "refund_rest_and_cancel", payment)
    variant.refresh_from_db()
    slot.refresh_from_db()
    assert (variant.stock_on_hand, variant.reserved, slot.taken) == (5, 0, 0)
    assert PaymentEvent.objects.filter(payment=payment, source="admin", detail__contains="Cancelled: order").exists()


def test_the_refund_confirmation_page_shows_the_amounts_in_rupees_and_takes_a_reason(
    admin_client, user, address, mixed_cart, fake_razorpay
):
    payment = pay(user=user, address=address, fake=fake_razorpay)
    chosen = {"action": "refund_rest", "_selected_action": [payment.pk]}
    page = admin_client.post("/admin/payments/payment/", chosen).content.decode()
    assert "Refund in full?" in page and "₹4,497.00" in page and "Yes, refund" in page and "No, take me back" in page
    assert not Refund.objects.exists()
    admin_client.post("/admin/payments/payment/", {**chosen, "confirmed": "yes", "reason": "Duplicate order"})
    assert Refund.objects.get().reason == "Duplicate order"
