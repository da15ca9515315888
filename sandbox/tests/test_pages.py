"""The hosted pages standing in for Razorpay Checkout and PhonePe's pay page, and the JSON endpoints behind them."""

from __future__ import annotations

import json
import re

import pytest

from sandbox.models import PhonePeOrder, RazorpayOrder, RazorpayPayment, WebhookDelivery
from sandbox.phonepe.services import create_order as create_phonepe_order
from sandbox.razorpay.services import create_order as create_razorpay_order

pytestmark = pytest.mark.django_db


def page_config(html: str, element_id: str) -> dict:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, html
    return json.loads(match.group(1))


@pytest.fixture
def rzp_order() -> RazorpayOrder:
    return create_razorpay_order(data={"amount": 50005, "currency": "INR"})


def test_checkout_page_shows_the_amount_in_rupees_and_both_buttons(client, rzp_order, settings):
    page = client.get(f"/sandbox/razorpay/checkout/{rzp_order.id}/")
    html = page.content.decode()
    assert page.status_code == 200 and "₹500.05" in html and settings.PAYFIRST_MERCHANT_NAME in html
    assert 'id="pay"' in html and 'id="fail"' in html
    assert page_config(html, "checkout-config") == {
        "pay_url": f"/sandbox/razorpay/checkout/{rzp_order.id}/pay",
        "callback_url": "",
        "order_id": rzp_order.id,
    }


@pytest.mark.parametrize(
    "callback_url",
    ["http://localhost:3000/checkout/done", "http://testserver/api/payments/return", "https://shop.example/cb"],
)
def test_checkout_page_accepts_a_safe_callback_url(client, rzp_order, settings, callback_url):
    settings.FRONTEND_BASE_URL = "http://localhost:3000"
    settings.CORS_ALLOWED_ORIGINS = ["https://shop.example"]
    page = client.get(f"/sandbox/razorpay/checkout/{rzp_order.id}/", {"callback_url": callback_url})
    assert page.status_code == 200
    assert page_config(page.content.decode(), "checkout-config")["callback_url"] == callback_url


@pytest.mark.parametrize(
    "callback_url",
    [
        "https://evil.example/steal",
        "javascript:alert(1)",
        "http://localhost:3000@evil.example/",
        "//evil.example/x",
        "http://localhost:3000.evil.example/",
    ],
)
def test_checkout_page_refuses_an_unsafe_callback_url(client, rzp_order, settings, callback_url):
    settings.FRONTEND_BASE_URL = "http://localhost:3000"
    settings.CORS_ALLOWED_ORIGINS = []
    page = client.get(f"/sandbox/razorpay/checkout/{rzp_order.id}/", {"callback_url": callback_url})
    assert page.status_code == 400 and "evil" not in page.content.decode()


def test_checkout_page_for_unknown_and_paid_orders(client, rzp_order):
    assert client.get("/sandbox/razorpay/checkout/order_00000000000000/").status_code == 404
    assert (
        client.post(
            f"/sandbox/razorpay/checkout/{rzp_order.id}/pay", {"outcome": "success"}, content_type="application/json"
        ).status_code
        == 200
    )
    page = client.get(f"/sandbox/razorpay/checkout/{rzp_order.id}/")
    assert "already been paid" in page.content.decode() and 'id="pay"' not in page.content.decode()


@pytest.mark.parametrize("body", ['{"outcome": "maybe"}', "{}", "not json", '["success"]'])
def test_checkout_pay_rejects_bad_input_in_razorpay_shape(client, rzp_order, body):
    answer = client.post(f"/sandbox/razorpay/checkout/{rzp_order.id}/pay", body, content_type="application/json")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert not RazorpayPayment.objects.exists()


def test_checkout_pay_on_unknown_order(client):
    answer = client.post(
        "/sandbox/razorpay/checkout/order_00000000000000/pay", {"outcome": "success"}, content_type="application/json"
    )
    assert answer.status_code == 400 and answer.json()["error"]["description"] == "The id provided does not exist"


@pytest.fixture
def pp_order() -> PhonePeOrder:
    return create_phonepe_order(
        data={
            "merchantOrderId": "PF-PAGE-1",
            "amount": 12345,
            "metaInfo": None,
            "expireAfter": None,
            "paymentFlow": {
                "type": "PG_CHECKOUT",
                "message": None,
                "paymentModeConfig": None,
                "merchantUrls": {"redirectUrl": "http://localhost:3000/return?payment_id=9"},
            },
            "disablePaymentRetry": None,
        }
    )


def test_phonepe_page_and_completion(client, pp_order):
    page = client.get("/sandbox/phonepe/pay/PF-PAGE-1/")
    html = page.content.decode()
    assert page.status_code == 200 and "₹123.45" in html and pp_order.order_id in html
    assert page_config(html, "pay-config") == {
        "complete_url": "/sandbox/phonepe/pay/PF-PAGE-1/complete",
        "payable": True,
    }
    done = client.post(
        "/sandbox/phonepe/pay/PF-PAGE-1/complete", {"outcome": "failure"}, content_type="application/json"
    )
    assert done.status_code == 200 and done.json() == {"redirect_url": "http://localhost:3000/return?payment_id=9"}
    again = client.post(
        "/sandbox/phonepe/pay/PF-PAGE-1/complete", {"outcome": "success"}, content_type="application/json"
    )
    assert again.status_code == 409 and again.json()["code"] == "INVALID_ORDER_STATE"
    assert page_config(client.get("/sandbox/phonepe/pay/PF-PAGE-1/").content.decode(), "pay-config")["payable"] is False
    pp_order.refresh_from_db()
    assert pp_order.state == PhonePeOrder.State.FAILED and pp_order.transactions.count() == 1


def test_phonepe_page_unknown_order_and_bad_outcome(client, pp_order):
    assert client.get("/sandbox/phonepe/pay/NOPE/").status_code == 404
    missing = client.post("/sandbox/phonepe/pay/NOPE/complete", {"outcome": "success"}, content_type="application/json")
    assert missing.status_code == 404 and missing.json()["code"] == "ORDER_NOT_FOUND"
    bad = client.post("/sandbox/phonepe/pay/PF-PAGE-1/complete", {"outcome": "later"}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["code"] == "BAD_REQUEST"


@pytest.mark.django_db(transaction=True)
def test_phonepe_page_pending_leaves_the_order_pending_without_a_callback(client, pp_order, receiver, settings, drain):
    settings.PAYFIRST_PUBLIC_BASE_URL = receiver.url
    assert 'id="pending"' in client.get("/sandbox/phonepe/pay/PF-PAGE-1/").content.decode()
    left = client.post(
        "/sandbox/phonepe/pay/PF-PAGE-1/complete", {"outcome": "pending"}, content_type="application/json"
    )
    assert left.status_code == 200 and left.json() == {"redirect_url": "http://localhost:3000/return?payment_id=9"}
    drain()
    assert receiver.received == [] and not WebhookDelivery.objects.exists()
    pp_order.refresh_from_db()
    assert pp_order.state == PhonePeOrder.State.PENDING and pp_order.transactions.count() == 0
    # Still payable afterwards: the customer may finish, and then the callback comes.
    paid = client.post(
        "/sandbox/phonepe/pay/PF-PAGE-1/complete", {"outcome": "success"}, content_type="application/json"
    )
    assert paid.status_code == 200
    drain()
    assert receiver.events() == ["checkout.order.completed"]
