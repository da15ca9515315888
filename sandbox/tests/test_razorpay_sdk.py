"""Conformance: the official `razorpay` SDK, unmodified, against the sandbox over real HTTP."""

from __future__ import annotations

import re

import pytest
import razorpay
import razorpay.errors
import requests

ID = re.compile(r"^(order|pay|rfnd)_[0-9A-Za-z]{14}$")


@pytest.fixture
def client(rzp) -> razorpay.Client:
    return rzp


def pay(sandbox, order_id: str, outcome: str = "success") -> requests.Response:
    return requests.post(f"{sandbox.razorpay}/checkout/{order_id}/pay", json={"outcome": outcome}, timeout=10)


def test_sdk_order_payment_capture_refund_round_trip(client, sandbox, settings, receiver):
    order = client.order.create({"amount": 50000, "currency": "INR", "receipt": "PF-1001", "payment_capture": 0})
    assert ID.match(order["id"]) and order["id"].startswith("order_")
    assert order["entity"] == "order" and order["status"] == "created" and order["notes"] == []
    assert (order["amount"], order["amount_paid"], order["amount_due"], order["attempts"]) == (50000, 0, 50000, 0)
    assert isinstance(order["created_at"], int) and order["created_at"] > 1_600_000_000
    assert client.order.fetch(order["id"]) == order

    result = pay(sandbox, order["id"])
    assert result.status_code == 200
    fields = result.json()
    assert set(fields) == {"razorpay_payment_id", "razorpay_order_id", "razorpay_signature"}
    assert client.utility.verify_payment_signature(fields) is True
    tampered = dict(
        fields,
        razorpay_signature=fields["razorpay_signature"][:-1] + "0"
        if not fields["razorpay_signature"].endswith("0")
        else fields["razorpay_signature"][:-1] + "1",
    )
    with pytest.raises(razorpay.errors.SignatureVerificationError):
        client.utility.verify_payment_signature(tampered)

    pay_id = fields["razorpay_payment_id"]
    payment = client.payment.fetch(pay_id)
    assert ID.match(pay_id) and payment["status"] == "authorized" and payment["captured"] is False
    assert payment["order_id"] == order["id"] and payment["amount"] == 50000 and payment["notes"] == []
    listed = client.order.payments(order["id"])
    assert listed["entity"] == "collection" and listed["count"] == 1 and listed["items"][0]["id"] == pay_id

    captured = client.payment.capture(pay_id, 50000, {"currency": "INR"})
    assert captured["status"] == "captured" and captured["captured"] is True
    assert client.order.fetch(order["id"])["status"] == "paid"
    with pytest.raises(razorpay.errors.BadRequestError, match="already been captured"):
        client.payment.capture(pay_id, 50000, {"currency": "INR"})

    key = {"headers": {"X-Refund-Idempotency": "refund-RF-1-key"}}
    refund = client.payment.refund(pay_id, {"amount": 20000, "receipt": "RF-1", "speed": "normal"}, **key)
    assert ID.match(refund["id"]) and refund["id"].startswith("rfnd_")
    assert (refund["status"], refund["amount"], refund["payment_id"], refund["receipt"]) == (
        "pending",
        20000,
        pay_id,
        "RF-1",
    )
    again = client.payment.refund(pay_id, {"amount": 20000, "receipt": "RF-1", "speed": "normal"}, **key)
    assert again["id"] == refund["id"]  # X-Refund-Idempotency makes a retried refund idempotent
    assert client.payment.fetch_multiple_refund(pay_id)["count"] == 1
    assert client.payment.fetch(pay_id)["amount_refunded"] == 20000
    with pytest.raises(razorpay.errors.BadRequestError, match="greater than amount captured"):
        client.payment.refund(pay_id, {"amount": 30001, "receipt": "RF-2"})

    sandbox.wait_for(lambda: client.refund.fetch(refund["id"])["status"] == "processed", what="the refund to settle")
    assert client.payment.fetch_refund_id(pay_id, refund["id"])["id"] == refund["id"]
    refunds = client.payment.fetch_multiple_refund(pay_id)
    assert [item["id"] for item in refunds["items"]] == [refund["id"]]
    rest = client.payment.refund(pay_id, {"receipt": "RF-3"})  # no amount: the whole unrefunded rest
    assert rest["amount"] == 30000
    full = client.payment.fetch(pay_id)
    assert (full["status"], full["refund_status"], full["captured"]) == ("refunded", "full", True)

    receiver.wait_for(7)
    assert receiver.events() == [
        "payment.authorized",
        "payment.captured",
        "order.paid",
        "refund.created",
        "refund.processed",
        "refund.created",
        "refund.processed",
    ]
    for delivery in receiver.received:
        body = delivery.body.decode("utf-8")
        signature = delivery.headers["X-Razorpay-Signature"]
        assert client.utility.verify_webhook_signature(body, signature, settings.RAZORPAY_WEBHOOK_SECRET) is True
        with pytest.raises(razorpay.errors.SignatureVerificationError):
            client.utility.verify_webhook_signature(
                body.replace("INR", "INS", 1), signature, settings.RAZORPAY_WEBHOOK_SECRET
            )
        assert delivery.path == "/api/payments/webhook/razorpay/"
    assert len({d.headers["X-Razorpay-Event-Id"] for d in receiver.received}) == len(receiver.received)
    sandbox.wait_idle()
    delivered = [
        item
        for item in sandbox.deliveries(gateway="razorpay", state="delivered")
        if item["subject"] in {pay_id, order["id"], refund["id"], rest["id"]}
    ]
    assert len(delivered) == 7


def test_sdk_auto_capture_sends_authorized_captured_paid(client, sandbox, receiver):
    order = client.order.create({"amount": 49999, "currency": "INR"})
    fields = pay(sandbox, order["id"]).json()
    payment = client.payment.fetch(fields["razorpay_payment_id"])
    assert payment["status"] == "captured" and payment["captured"] is True
    paid = client.order.fetch(order["id"])
    assert (paid["status"], paid["amount_paid"], paid["amount_due"], paid["attempts"]) == ("paid", 49999, 0, 1)

    receiver.wait_for(3)
    assert receiver.events() == ["payment.authorized", "payment.captured", "order.paid"]
    authorized, captured, order_paid = (item.json() for item in receiver.received)
    assert authorized["entity"] == "event" and authorized["contains"] == ["payment"]
    assert authorized["account_id"].startswith("acc_")
    # Each payload is a snapshot at event time: the authorized event still says authorized.
    assert authorized["payload"]["payment"]["entity"]["status"] == "authorized"
    assert captured["payload"]["payment"]["entity"]["status"] == "captured"
    assert order_paid["contains"] == ["payment", "order"]
    assert order_paid["payload"]["order"]["entity"]["status"] == "paid"
    assert order_paid["payload"]["order"]["entity"]["amount_due"] == 0

    second = pay(sandbox, order["id"])
    assert second.status_code == 400 and second.json()["error"]["code"] == "BAD_REQUEST_ERROR"


def test_sdk_failed_payment_then_retry_on_same_order(client, sandbox, receiver):
    order = client.order.create({"amount": 10000, "currency": "INR"})
    failed = pay(sandbox, order["id"], "failure")
    assert failed.status_code == 400
    error = failed.json()["error"]
    assert (error["code"], error["description"], error["source"], error["step"], error["reason"]) == (
        "BAD_REQUEST_ERROR",
        "Payment failed",
        "bank",
        "payment_authorization",
        "payment_failed",
    )
    failed_payment = client.payment.fetch(error["metadata"]["payment_id"])
    assert failed_payment["status"] == "failed" and failed_payment["error_reason"] == "payment_failed"
    assert client.order.fetch(order["id"])["status"] == "attempted"

    assert pay(sandbox, order["id"]).status_code == 200
    assert client.order.fetch(order["id"])["attempts"] == 2
    receiver.wait_for(4)
    assert receiver.events() == ["payment.failed", "payment.authorized", "payment.captured", "order.paid"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"amount": 99, "currency": "INR"}, "at least INR 1.00"),
        ({"amount": 100.5, "currency": "INR"}, "must be an integer"),
        ({"amount": "100", "currency": "INR"}, "must be an integer"),
        ({"currency": "INR"}, "amount field is required"),
        ({"amount": 100, "currency": "USD"}, "currency is invalid"),
        ({"amount": 100, "currency": "INR", "receipt": "x" * 41}, "40 characters"),
        ({"amount": 100, "currency": "INR", "colour": "red"}, "colour is/are not required"),
    ],
)
def test_sdk_sees_razorpay_validation_errors(client, data, message):
    with pytest.raises(razorpay.errors.BadRequestError, match=message):
        client.order.create(data)


def test_sdk_unknown_ids_and_bad_key(client, sandbox, settings):
    with pytest.raises(razorpay.errors.BadRequestError, match="The id provided does not exist"):
        client.payment.fetch("pay_00000000000000")
    with pytest.raises(razorpay.errors.BadRequestError, match="The id provided does not exist"):
        client.order.fetch("order_00000000000000")
    wrong = razorpay.Client(auth=(settings.RAZORPAY_KEY_ID, "not-the-secret"), base_url=sandbox.razorpay)
    with pytest.raises(razorpay.errors.BadRequestError, match="Authentication failed"):
        wrong.order.create({"amount": 100, "currency": "INR"})
    wrong.session.close()
    answer = requests.get(f"{sandbox.razorpay}/v1/orders", timeout=10)
    assert answer.status_code == 401 and answer.json()["error"]["description"] == "Authentication failed"
    unknown = requests.get(
        f"{sandbox.razorpay}/v1/no-such-thing",
        auth=(settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET),
        timeout=10,
    )
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "BAD_REQUEST_ERROR"


def test_capture_refuses_wrong_amount_and_refund_refuses_uncaptured(client, sandbox):
    order = client.order.create({"amount": 30000, "currency": "INR", "payment_capture": 0})
    pay_id = pay(sandbox, order["id"]).json()["razorpay_payment_id"]
    with pytest.raises(razorpay.errors.BadRequestError, match="Only captured payments can be refunded"):
        client.payment.refund(pay_id, {"amount": 1000})
    with pytest.raises(razorpay.errors.BadRequestError, match="equal to the amount authorized"):
        client.payment.capture(pay_id, 29999, {"currency": "INR"})
    assert client.payment.fetch(pay_id)["status"] == "authorized"
