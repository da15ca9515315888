"""Razorpay Checkout's redirect-mode callback: a public form POST, verified by its signature, through the capture
door, answered 303 to the payment's redirect_url; a failure's error fields are noted and move nothing."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test.utils import override_settings
from rest_framework.test import APIClient

from payfirst.fulfilment.models import Booking
from payfirst.gateways.base import GatewayStatus, GatewayUnavailable
from payfirst.payments import services
from payfirst.payments.models import Payment, PaymentEvent
from payfirst.payments.states import PaymentStatus

S = PaymentStatus
URL = "/api/payments/callback/razorpay/"
pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(user, address, mixed_cart, fake_razorpay) -> Payment:
    with override_settings(FRONTEND_BASE_URL="http://localhost:3000"):
        return services.create_payment_for_cart(
            user=user,
            gateway="razorpay",
            shipping_address_id=address.pk,
            redirect_url="http://localhost:3000/done?from=rzp",
        ).payment


def form(data: dict[str, str]):
    """A browser's form POST from Razorpay's page: urlencoded, no session, no CSRF token."""
    return APIClient(enforce_csrf_checks=True).generic(
        "POST", URL, urlencode(data), content_type="application/x-www-form-urlencoded"
    )


def query_of(response) -> dict[str, list[str]]:
    target = urlsplit(response["Location"])
    assert (target.netloc, target.path) == ("localhost:3000", "/done")
    return parse_qs(target.query)


def test_a_signed_success_is_captured_and_answered_303_to_the_redirect_url(pending, fake_razorpay):
    fake_razorpay.settle(pending.gateway_order_id)
    response = form(fake_razorpay.checkout_fields(pending.gateway_order_id))
    assert response.status_code == 303
    assert query_of(response) == {"from": ["rzp"], "payment_id": [str(pending.pk)], "status": ["success"]}
    pending.refresh_from_db()
    assert pending.status == S.CAPTURED and Booking.objects.filter(payment=pending).count() == 1
    assert pending.events.get(to_status=S.CAPTURED).source == "confirm"
    # The browser posting again (back button) changes nothing.
    assert query_of(form(fake_razorpay.checkout_fields(pending.gateway_order_id)))["status"] == ["success"]
    assert Booking.objects.count() == 1


def test_a_wrong_signature_is_400_and_changes_nothing(pending, fake_razorpay):
    fake_razorpay.settle(pending.gateway_order_id)
    fields = dict(fake_razorpay.checkout_fields(pending.gateway_order_id), razorpay_signature="0" * 64)
    response = form(fields)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_signature"
    assert Payment.objects.get().status == S.PENDING and fake_razorpay.calls["fetch_payment"] == 0


def test_an_unknown_order_is_404(fake_razorpay):
    fields = {"razorpay_order_id": "order_nope", "razorpay_payment_id": "pay_x"}
    fields["razorpay_signature"] = fake_razorpay.sign_checkout(order_id="order_nope", payment_id="pay_x")
    response = form(fields)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_error_fields_record_the_failed_attempt_and_move_nothing_by_themselves(pending, fake_razorpay):
    metadata = json.dumps({"order_id": pending.gateway_order_id, "payment_id": "pay_failed1"})
    response = form(
        {
            "error[code]": "BAD_REQUEST_ERROR",
            "error[description]": "Payment failed",
            "error[source]": "customer",
            "error[step]": "payment_authorization",
            "error[reason]": "payment_failed",
            "error[metadata]": metadata,
        },
    )
    assert response.status_code == 303
    assert query_of(response)["status"] == ["pending"]  # Razorpay still says pending: the customer may retry
    note = PaymentEvent.objects.filter(payment=pending, detail__startswith="Checkout reported a failed attempt").get()
    assert note.from_status == note.to_status == S.PENDING
    assert note.payload["checkout_error"]["code"] == "BAD_REQUEST_ERROR"
    assert note.payload["razorpay_payment_id"] == "pay_failed1"
    assert Payment.objects.get().status == S.PENDING and fake_razorpay.calls["fetch_payment"] == 1


def test_error_fields_without_an_order_are_404(pending):
    response = form({"error[code]": "BAD_REQUEST_ERROR", "error[metadata]": "not json"})
    assert response.status_code == 404


def test_a_gateway_that_cannot_answer_still_sends_the_browser_on(pending, fake_razorpay):
    fake_razorpay.settle(pending.gateway_order_id, GatewayStatus.CAPTURED)
    fields = fake_razorpay.checkout_fields(pending.gateway_order_id)
    fake_razorpay.fail_next("fetch_payment", GatewayUnavailable("down"))
    response = form(fields)
    assert response.status_code == 303 and query_of(response)["status"] == ["pending"]


def test_without_a_redirect_url_the_answer_is_json(user, address, mixed_cart, fake_razorpay):
    payment = services.create_payment_for_cart(user=user, gateway="razorpay", shipping_address_id=address.pk).payment
    fake_razorpay.settle(payment.gateway_order_id)
    response = form(fake_razorpay.checkout_fields(payment.gateway_order_id))
    assert response.status_code == 200 and response.json() == {"payment_id": payment.pk, "status": "success"}
