"""The hosted pages standing in for Razorpay Checkout and PhonePe's pay page, and the JSON endpoints behind them,
over HTTP: the amount in rupees with Indian grouping, what is bought and who pays, the way back to the merchant."""

from __future__ import annotations

import base64
import json
import re

import pytest

from sandbox.money import rupees

RZP = "/sandbox/razorpay/v1"
PP = "/sandbox/phonepe"


def page_config(html: str, element_id: str) -> dict:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, html
    return json.loads(match.group(1))


@pytest.mark.parametrize(
    ("paise", "text"),
    [(0, "₹0.00"), (5, "₹0.05"), (50005, "₹500.05"), (12345600, "₹1,23,456.00"), (1234567890, "₹1,23,45,678.90")],
)
def test_rupees_use_indian_digit_grouping(paise, text):
    assert rupees(paise) == text


@pytest.fixture
def rzp_auth(settings) -> dict:
    token = base64.b64encode(f"{settings.RAZORPAY_KEY_ID}:{settings.RAZORPAY_KEY_SECRET}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


@pytest.fixture
def rzp_order(client, rzp_auth) -> dict:
    body = {"amount": 12345600, "currency": "INR", "receipt": "PAY-7Q3K9X2M", "notes": {"reference": "PAY-7Q3K9X2M"}}
    return client.post(f"{RZP}/orders", body, **rzp_auth).json()


def test_checkout_page_shows_items_amount_customer_and_both_buttons(client, rzp_order, settings):
    query = {
        "description": "Brass Diya — Large x 2",
        "prefill[name]": "Asha Rao",
        "prefill[email]": "asha@example.com",
        "prefill[contact]": "+919876543210",
    }
    page = client.get(f"/sandbox/razorpay/checkout/{rzp_order['id']}/", query)
    html = page.text
    assert page.status_code == 200 and "₹1,23,456.00" in html and settings.PAYFIRST_MERCHANT_NAME in html
    for shown in ("Brass Diya — Large x 2", "Asha Rao", "asha@example.com", "+919876543210", "PAY-7Q3K9X2M"):
        assert shown in html
    assert 'id="pay"' in html and 'id="fail"' in html
    assert page_config(html, "checkout-config") == {
        "pay_url": f"/sandbox/razorpay/checkout/{rzp_order['id']}/pay",
        "callback_url": "",
        "order_id": rzp_order["id"],
        "email": "asha@example.com",
        "contact": "+919876543210",
    }
    assert "Go back to the shop" in html  # the next step when there is no callback_url


def test_the_paying_customer_is_on_the_payment(client, rzp_order, rzp_auth):
    paid = client.post(
        f"/sandbox/razorpay/checkout/{rzp_order['id']}/pay",
        {"outcome": "success", "email": "asha@example.com", "contact": "+919876543210"},
    ).json()
    payment = client.get(f"{RZP}/payments/{paid['razorpay_payment_id']}", **rzp_auth).json()
    assert (payment["email"], payment["contact"]) == ("asha@example.com", "+919876543210")


@pytest.mark.parametrize(
    "callback_url",
    ["http://localhost:3000/checkout/done", "http://127.0.0.1:{app}/api/payments/return", "http://127.0.0.1:{self}/x"],
)
def test_checkout_page_accepts_a_safe_callback_url(client, sandbox, receiver, rzp_order, callback_url):
    callback_url = callback_url.format(app=receiver.url.rsplit(":", 1)[1], self=sandbox.url.rsplit(":", 1)[1])
    page = client.get(f"/sandbox/razorpay/checkout/{rzp_order['id']}/", {"callback_url": callback_url})
    assert page.status_code == 200
    config = page_config(page.text, "checkout-config")
    assert config["callback_url"] == callback_url
    # Redirect mode: the page form-POSTs Checkout's fields (or the error[...] fields) to callback_url.
    for field in ("error[code]", "error[description]", "error[source]", "error[step]", "error[reason]"):
        assert field in page.text
    assert 'form.method = "POST"' in page.text and "form.action = config.callback_url" in page.text


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
def test_checkout_page_refuses_an_unsafe_callback_url(client, rzp_order, callback_url):
    page = client.get(f"/sandbox/razorpay/checkout/{rzp_order['id']}/", {"callback_url": callback_url})
    assert page.status_code == 400 and "callback_url" in page.text


def test_checkout_page_for_unknown_and_paid_orders(client, rzp_order):
    assert client.get("/sandbox/razorpay/checkout/order_00000000000000/").status_code == 404
    client.post(f"/sandbox/razorpay/checkout/{rzp_order['id']}/pay", {"outcome": "success"})
    page = client.get(f"/sandbox/razorpay/checkout/{rzp_order['id']}/")
    assert page.status_code == 200 and "already been paid" in page.text and 'id="pay"' not in page.text


@pytest.mark.parametrize("body", [{}, {"outcome": "maybe"}, {"outcome": "success", "email": "not-an-email"}])
def test_checkout_pay_rejects_bad_input_in_razorpay_shape(client, rzp_order, rzp_auth, body):
    answer = client.post(f"/sandbox/razorpay/checkout/{rzp_order['id']}/pay", body)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert client.get(f"{RZP}/orders/{rzp_order['id']}/payments", **rzp_auth).json()["count"] == 0


def test_checkout_pay_on_unknown_order(client):
    answer = client.post("/sandbox/razorpay/checkout/order_00000000000000/pay", {"outcome": "success"})
    assert answer.status_code == 400 and answer.json()["error"]["description"] == "The id provided does not exist"


# PhonePe -----------------------------------------------------------------------------------------------------------


@pytest.fixture
def bearer(client, settings) -> dict:
    form = (
        f"client_id={settings.PHONEPE_CLIENT_ID}&client_secret={settings.PHONEPE_CLIENT_SECRET}"
        f"&client_version={settings.PHONEPE_CLIENT_VERSION}&grant_type=client_credentials"
    )
    token = client.post(f"{PP}/v1/oauth/token", form, "application/x-www-form-urlencoded").json()
    return {"HTTP_AUTHORIZATION": f"O-Bearer {token['access_token']}"}


@pytest.fixture
def pp_order(client, bearer) -> str:
    body = {
        "merchantOrderId": "PF-PAGE-1",
        "amount": 249900,
        "prefillUserLoginDetails": {"phoneNumber": "+919876543210"},
        "paymentFlow": {
            "type": "PG_CHECKOUT",
            "message": "Satyanarayan Puja — Standard",
            "merchantUrls": {"redirectUrl": "http://localhost:3000/return?payment_id=7"},
        },
    }
    assert client.post(f"{PP}/checkout/v2/pay", body, **bearer).status_code == 200
    return "PF-PAGE-1"


def test_phonepe_page_and_completion(client, pp_order, receiver):
    page = client.get(f"{PP}/pay/{pp_order}/")
    html = page.text
    assert page.status_code == 200 and "₹2,499.00" in html
    assert "Satyanarayan Puja — Standard" in html and "+919876543210" in html
    config = page_config(html, "pay-config")
    assert config["payable"] is True and config["complete_url"] == f"{PP}/pay/{pp_order}/complete"
    assert config["redirect_url"] == "http://localhost:3000/return?payment_id=7"
    assert "window.location.assign(body.redirect_url)" in html  # back to the merchant, as PhonePe does
    done = client.post(config["complete_url"], {"outcome": "success"})
    assert done.json() == {"redirect_url": "http://localhost:3000/return?payment_id=7"}
    after = client.get(f"{PP}/pay/{pp_order}/")
    assert 'id="pay"' not in after.text and 'id="back" href="http://localhost:3000/return?payment_id=7"' in after.text
    receiver.wait_for(1)
    assert receiver.events() == ["checkout.order.completed"]


def test_phonepe_page_unknown_order_and_bad_outcome(client, pp_order):
    assert client.get(f"{PP}/pay/NOPE/").status_code == 404
    bad = client.post(f"{PP}/pay/{pp_order}/complete", {"outcome": "maybe"})
    assert bad.status_code == 400 and bad.json()["success"] is False


def test_phonepe_page_pending_leaves_the_order_pending_without_a_callback(client, pp_order, bearer, sandbox, receiver):
    assert client.post(f"{PP}/pay/{pp_order}/complete", {"outcome": "pending"}).status_code == 200
    sandbox.wait_idle()
    assert receiver.received == [] and sandbox.deliveries() == []
    assert client.get(f"{PP}/checkout/v2/order/{pp_order}/status", **bearer).json()["state"] == "PENDING"
    assert client.post(f"{PP}/pay/{pp_order}/complete", {"outcome": "success"}).status_code == 200
    receiver.wait_for(1)
    assert receiver.events() == ["checkout.order.completed"]
