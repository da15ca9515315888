"""The refund_failure fault over HTTP: a refund is accepted (pending) and then fails, with the gateway's own signed
refund-failed webhook, and its amount becomes refundable again; only accepted refunds use the fault."""

from __future__ import annotations

import pytest
import razorpay
import razorpay.errors
import requests

from sandbox.signing import phonepe_callback_authorization
from sandbox.tests.test_phonepe_api import PP, fetch_token, pay_body, post, token_form


def arm(client_or_url, gateway: str, count: int = 1) -> dict:
    body = {"gateway": gateway, "fault": "refund_failure", "count": count}
    if isinstance(client_or_url, str):
        answer = requests.post(f"{client_or_url}/sandbox/faults/", json=body, timeout=10)
        assert answer.status_code == 201, answer.text
        return answer.json()
    answer = client_or_url.post("/sandbox/faults/", body, content_type="application/json")
    assert answer.status_code == 201, answer.content
    return answer.json()


# Razorpay, through the official SDK ------------------------------------------------------------------------------


def paid_razorpay_payment(sandbox, rzp: razorpay.Client, amount: int = 50000) -> str:
    order = rzp.order.create({"amount": amount, "currency": "INR"})
    paid = requests.post(f"{sandbox.razorpay}/checkout/{order['id']}/pay", json={"outcome": "success"}, timeout=10)
    assert paid.status_code == 200
    return paid.json()["razorpay_payment_id"]


def test_razorpay_refund_fails_with_signed_refund_failed_and_a_later_refund_succeeds(sandbox, rzp, receiver, settings):
    armed = arm(sandbox.url, "razorpay")
    assert (armed["fault"], armed["count"]) == ("refund_failure", 1)
    pay_id = paid_razorpay_payment(sandbox, rzp)

    refund = rzp.payment.refund(pay_id, {"amount": 50000, "receipt": "RF-1"})
    assert refund["status"] == "pending"  # accepted as Razorpay accepts it
    assert rzp.payment.fetch(pay_id)["amount_refunded"] == 50000  # held while pending
    sandbox.wait_for(lambda: rzp.refund.fetch(refund["id"])["status"] != "pending", what="the refund to settle")
    failed = rzp.refund.fetch(refund["id"])
    assert (failed["status"], failed["amount"]) == ("failed", 50000)
    payment = rzp.payment.fetch(pay_id)
    assert (payment["status"], payment["amount_refunded"], payment["refund_status"]) == ("captured", 0, None)

    receiver.wait_for(5)
    events = [item for item in receiver.received if item.event.startswith("refund.")]
    assert [item.event for item in events] == ["refund.created", "refund.failed"]
    delivery = events[1]
    body = delivery.body.decode("utf-8")
    signature = delivery.headers["X-Razorpay-Signature"]
    assert rzp.utility.verify_webhook_signature(body, signature, settings.RAZORPAY_WEBHOOK_SECRET) is True
    document = delivery.json()
    assert document["entity"] == "event" and document["contains"] == ["refund", "payment"]
    entity = document["payload"]["refund"]["entity"]
    assert (entity["id"], entity["status"], entity["amount"], entity["payment_id"]) == (
        refund["id"],
        "failed",
        50000,
        pay_id,
    )
    paid = document["payload"]["payment"]["entity"]
    assert (paid["id"], paid["status"], paid["amount_refunded"], paid["refund_status"]) == (
        pay_id,
        "captured",
        0,
        None,
    )
    assert delivery.headers["X-Razorpay-Event-Id"] != events[0].headers["X-Razorpay-Event-Id"]

    # A new refund (receipts are not unique: the same receipt is a new refund) goes through.
    later = rzp.payment.refund(pay_id, {"amount": 50000, "receipt": "RF-1"})
    assert later["id"] != refund["id"] and later["status"] == "pending"
    sandbox.wait_for(lambda: rzp.refund.fetch(later["id"])["status"] == "processed", what="the second refund")
    full = rzp.payment.fetch(pay_id)
    assert (full["status"], full["amount_refunded"], full["refund_status"]) == ("refunded", 50000, "full")
    receiver.wait_for(7)
    assert [item.event for item in receiver.received if item.event.startswith("refund.")] == [
        "refund.created",
        "refund.failed",
        "refund.created",
        "refund.processed",
    ]
    assert sandbox.client.get(f"{sandbox.url}/sandbox/faults/").json()["count"] == 0


def test_razorpay_fault_fails_exactly_count_refunds(sandbox, rzp):
    arm(sandbox.url, "razorpay", count=2)
    pay_id = paid_razorpay_payment(sandbox, rzp, amount=3000)
    refunds = [rzp.payment.refund(pay_id, {"amount": 1000}) for _ in range(3)]
    assert rzp.payment.fetch(pay_id)["amount_refunded"] == 3000  # all three held while pending
    sandbox.wait_idle()
    assert [rzp.refund.fetch(r["id"])["status"] for r in refunds] == ["failed", "failed", "processed"]
    assert rzp.payment.fetch(pay_id)["amount_refunded"] == 1000


def test_razorpay_refused_refund_does_not_use_the_fault(sandbox, rzp):
    arm(sandbox.url, "razorpay")
    order = rzp.order.create({"amount": 3000, "currency": "INR", "payment_capture": 0})
    pay_id = requests.post(
        f"{sandbox.razorpay}/checkout/{order['id']}/pay", json={"outcome": "success"}, timeout=10
    ).json()["razorpay_payment_id"]
    with pytest.raises(razorpay.errors.BadRequestError, match="Only captured payments"):
        rzp.payment.refund(pay_id, {"amount": 1000})
    assert sandbox.client.get(f"{sandbox.url}/sandbox/faults/").json()["results"][0]["count"] == 1
    rzp.payment.capture(pay_id, 3000, {"currency": "INR"})
    rzp.payment.refund(pay_id, {"amount": 1000})
    assert sandbox.client.get(f"{sandbox.url}/sandbox/faults/").json()["count"] == 0


# PhonePe, through the REST endpoints ------------------------------------------------------------------------------


@pytest.fixture
def bearer(client, settings) -> dict:
    token = fetch_token(client, token_form(settings)).json()
    return {"HTTP_AUTHORIZATION": f"O-Bearer {token['access_token']}"}


def _refund(client, bearer, merchant_refund_id: str, amount: int = 1000):
    body = {"merchantRefundId": merchant_refund_id, "amount": amount, "originalMerchantOrderId": "PF-API-1"}
    return post(client, "/payments/v2/refund", body, bearer)


def _refund_state(client, bearer, merchant_refund_id: str) -> str:
    answer = client.get(f"{PP}/payments/v2/refund/{merchant_refund_id}/status", **bearer)
    assert answer.status_code == 200
    return answer.json()["state"]


def test_phonepe_refund_fails_with_pg_refund_failed_and_a_later_refund_succeeds(
    client, bearer, sandbox, receiver, settings
):
    arm(client, "phonepe")
    post(client, "/checkout/v2/pay", pay_body(), bearer)
    client.post(f"{PP}/pay/PF-API-1/complete", {"outcome": "success"}, content_type="application/json")

    accepted = _refund(client, bearer, "R-1")
    assert accepted.status_code == 200 and accepted.json()["state"] == "PENDING"
    sandbox.wait_for(lambda: _refund_state(client, bearer, "R-1") == "FAILED", what="the refund to fail")
    status = client.get(f"{PP}/payments/v2/refund/R-1/status", **bearer).json()
    assert status["paymentDetails"][0]["state"] == "FAILED" and status["amount"] == 1000
    receiver.wait_for(3)
    callbacks = [item for item in receiver.received if item.event.startswith("pg.refund.")]
    assert [(c.event, c.json()["type"], c.json()["payload"]["state"]) for c in callbacks] == [
        ("pg.refund.accepted", "PG_REFUND_ACCEPTED", "CONFIRMED"),
        ("pg.refund.failed", "PG_REFUND_FAILED", "FAILED"),
    ]
    failed = callbacks[1]
    assert failed.path == "/api/payments/webhook/phonepe/"
    assert failed.headers["Authorization"] == phonepe_callback_authorization(
        username=settings.PHONEPE_WEBHOOK_USERNAME, password=settings.PHONEPE_WEBHOOK_PASSWORD
    )
    payload = failed.json()["payload"]
    assert (payload["merchantRefundId"], payload["originalMerchantOrderId"], payload["amount"]) == (
        "R-1",
        "PF-API-1",
        1000,
    )
    assert payload["refundId"] == accepted.json()["refundId"]

    # The merchantRefundId stays used; a new one for the same amount goes through.
    assert _refund(client, bearer, "R-1").json()["code"] == "DUPLICATE_REFUND_ID"
    assert _refund(client, bearer, "R-2").status_code == 200
    sandbox.wait_for(lambda: _refund_state(client, bearer, "R-2") == "COMPLETED", what="the second refund")
    assert _refund(client, bearer, "R-3", amount=100).status_code == 400  # the whole order is refunded now
    receiver.wait_for(5)
    assert [item.event for item in receiver.received if item.event.startswith("pg.refund.")][2:] == [
        "pg.refund.accepted",
        "pg.refund.completed",
    ]


def test_phonepe_fault_fails_exactly_count_refunds(client, bearer, sandbox, receiver):
    arm(client, "phonepe", count=1)
    post(client, "/checkout/v2/pay", pay_body(), bearer)
    client.post(f"{PP}/pay/PF-API-1/complete", {"outcome": "success"}, content_type="application/json")
    assert _refund(client, bearer, "R-1", amount=400).status_code == 200
    assert _refund(client, bearer, "R-2", amount=600).status_code == 200
    assert _refund(client, bearer, "R-3", amount=100).status_code == 400  # both still held: nothing left
    sandbox.wait_idle(horizon=5)
    assert (_refund_state(client, bearer, "R-1"), _refund_state(client, bearer, "R-2")) == ("FAILED", "COMPLETED")
    assert _refund(client, bearer, "R-4", amount=400).status_code == 200  # the failed 400 is refundable again
    assert _refund(client, bearer, "R-5", amount=100).status_code == 400
    receiver.wait_for(4)
    assert sorted(e for e in receiver.events() if e in ("pg.refund.failed", "pg.refund.completed")) == [
        "pg.refund.completed",
        "pg.refund.failed",
    ]
    assert client.get("/sandbox/faults/").json()["count"] == 0


def test_phonepe_refused_refund_does_not_use_the_fault(client, bearer):
    arm(client, "phonepe")
    post(client, "/checkout/v2/pay", pay_body(), bearer)
    assert _refund(client, bearer, "R-early").status_code == 400  # not paid yet
    assert client.get("/sandbox/faults/").json()["results"][0]["count"] == 1
    client.post(f"{PP}/pay/PF-API-1/complete", {"outcome": "success"}, content_type="application/json")
    assert _refund(client, bearer, "R-1").status_code == 200
    assert client.get("/sandbox/faults/").json()["count"] == 0
