"""The refund_failure fault: refunds are accepted, then settle failed with refund.failed / pg.refund.failed, give their
amount back to the payment or order, and use the fault exactly `count` times."""

from __future__ import annotations

import pytest
import razorpay
import requests

from sandbox import faults
from sandbox.errors import PhonePeApiError, RazorpayApiError
from sandbox.models import Fault, PhonePeOrder, RazorpayPayment, RazorpayRefund
from sandbox.phonepe.services import complete_order, refund_order
from sandbox.phonepe.services import create_order as create_pp_order
from sandbox.razorpay.services import create_order as create_rzp_order
from sandbox.razorpay.services import pay_order, refund_payment
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


@pytest.mark.django_db(transaction=True)
def test_razorpay_refund_fails_with_signed_refund_failed_and_a_later_refund_succeeds(
    sandbox, rzp, receiver, drain, settings
):
    armed = arm(sandbox.url, "razorpay")
    assert (armed["fault"], armed["count"]) == ("refund_failure", 1)
    pay_id = paid_razorpay_payment(sandbox, rzp)

    refund = rzp.payment.refund(pay_id, {"amount": 50000, "receipt": "RF-1"})
    assert refund["status"] == "pending"  # accepted as Razorpay accepts it
    assert rzp.payment.fetch(pay_id)["amount_refunded"] == 50000  # held while pending
    drain()
    failed = rzp.refund.fetch(refund["id"])
    assert (failed["status"], failed["amount"]) == ("failed", 50000)
    payment = rzp.payment.fetch(pay_id)
    assert (payment["status"], payment["amount_refunded"], payment["refund_status"]) == ("captured", 0, None)

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

    # Repeating the failed refund's receipt finds that refund (the sandbox's receipt rule); a new receipt refunds.
    assert rzp.payment.refund(pay_id, {"amount": 50000, "receipt": "RF-1"})["id"] == refund["id"]
    later = rzp.payment.refund(pay_id, {"amount": 50000, "receipt": "RF-2"})
    assert later["id"] != refund["id"] and later["status"] == "pending"
    drain()
    assert rzp.refund.fetch(later["id"])["status"] == "processed"
    full = rzp.payment.fetch(pay_id)
    assert (full["status"], full["amount_refunded"], full["refund_status"]) == ("refunded", 50000, "full")
    assert [item.event for item in receiver.received if item.event.startswith("refund.")] == [
        "refund.created",
        "refund.failed",
        "refund.created",
        "refund.processed",
    ]
    assert not Fault.objects.filter(remaining__gt=0).exists()


@pytest.fixture
def to_receiver(receiver, settings, quick_settle):
    settings.PAYFIRST_PUBLIC_BASE_URL = receiver.url
    return receiver


def _paid_rzp_payment(amount: int = 3000) -> RazorpayPayment:
    order = create_rzp_order(data={"amount": amount, "currency": "INR"})
    return pay_order(order_id=order.id, outcome="success").payment


@pytest.mark.django_db(transaction=True)
def test_razorpay_fault_fails_exactly_count_refunds(client, to_receiver, drain):
    arm(client, "razorpay", count=2)
    payment = _paid_rzp_payment()
    refunds = [
        refund_payment(payment_id=payment.id, data={"amount": 1000, "receipt": f"RF-{n}"}).refund for n in range(3)
    ]
    assert RazorpayPayment.objects.get(pk=payment.pk).amount_refunded == 3000  # all three held while pending
    drain()
    assert [RazorpayRefund.objects.get(pk=r.pk).status for r in refunds] == ["failed", "failed", "processed"]
    payment.refresh_from_db()
    assert (payment.amount_refunded, payment.status) == (1000, RazorpayPayment.Status.CAPTURED)
    assert [e for e in to_receiver.events() if e.startswith("refund.")] == [
        "refund.created",
        "refund.created",
        "refund.created",
        "refund.failed",
        "refund.failed",
        "refund.processed",
    ]
    # The failed refunds' amount is refundable again.
    refund_payment(payment_id=payment.id, data={"amount": 2000, "receipt": "RF-rest"})
    payment.refresh_from_db()
    assert payment.amount_refunded == 3000 and payment.status == RazorpayPayment.Status.REFUNDED


@pytest.mark.django_db(transaction=True)
def test_razorpay_refused_refund_does_not_use_the_fault(client, to_receiver, drain):
    arm(client, "phonepe")  # another gateway's fault is not this gateway's
    arm(client, "razorpay")
    payment = _paid_rzp_payment()
    with pytest.raises(RazorpayApiError):
        refund_payment(payment_id=payment.id, data={"amount": 3001, "receipt": "RF-too-much"})
    assert Fault.objects.get(gateway="razorpay").remaining == 1
    refund = refund_payment(payment_id=payment.id, data={"amount": 3000, "receipt": "RF-1"}).refund
    assert Fault.objects.get(gateway="razorpay").remaining == 0
    drain()
    refund.refresh_from_db()
    assert refund.status == RazorpayRefund.Status.FAILED
    assert Fault.objects.get(gateway="phonepe").remaining == 1


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


@pytest.mark.django_db(transaction=True)
def test_phonepe_refund_fails_with_pg_refund_failed_and_a_later_refund_succeeds(
    client, bearer, to_receiver, drain, settings
):
    arm(client, "phonepe")
    post(client, "/checkout/v2/pay", pay_body(), bearer)
    client.post(f"{PP}/pay/PF-API-1/complete", {"outcome": "success"}, content_type="application/json")

    accepted = _refund(client, bearer, "R-1")
    assert accepted.status_code == 200 and accepted.json()["state"] == "PENDING"
    drain()
    assert _refund_state(client, bearer, "R-1") == "FAILED"
    status = client.get(f"{PP}/payments/v2/refund/R-1/status", **bearer).json()
    assert status["paymentDetails"][0]["state"] == "FAILED" and status["amount"] == 1000
    assert PhonePeOrder.objects.get().amount_refunded == 0

    callbacks = [item for item in to_receiver.received if item.event.startswith("pg.refund.")]
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
    drain()
    assert _refund_state(client, bearer, "R-2") == "COMPLETED"
    assert PhonePeOrder.objects.get().amount_refunded == 1000
    assert [item.event for item in to_receiver.received if item.event.startswith("pg.refund.")][2:] == [
        "pg.refund.accepted",
        "pg.refund.completed",
    ]


@pytest.mark.django_db(transaction=True)
def test_phonepe_fault_fails_exactly_count_refunds(client, bearer, to_receiver, drain):
    arm(client, "phonepe", count=1)
    post(client, "/checkout/v2/pay", pay_body(), bearer)
    client.post(f"{PP}/pay/PF-API-1/complete", {"outcome": "success"}, content_type="application/json")
    assert _refund(client, bearer, "R-1", amount=400).status_code == 200
    assert _refund(client, bearer, "R-2", amount=600).status_code == 200
    assert _refund(client, bearer, "R-3", amount=100).status_code == 400  # both still held: nothing left
    drain()
    assert (_refund_state(client, bearer, "R-1"), _refund_state(client, bearer, "R-2")) == ("FAILED", "COMPLETED")
    assert PhonePeOrder.objects.get().amount_refunded == 600
    assert sorted(e for e in to_receiver.events() if e in ("pg.refund.failed", "pg.refund.completed")) == [
        "pg.refund.completed",
        "pg.refund.failed",
    ]
    assert not Fault.objects.filter(remaining__gt=0).exists()


@pytest.mark.django_db(transaction=True)
def test_phonepe_refused_refund_does_not_use_the_fault(quick_settle, drain):
    faults.arm_fault(gateway="phonepe", kind="refund_failure", count=1)
    create_pp_order(data=pay_body())
    with pytest.raises(PhonePeApiError):
        refund_order(data={"merchantRefundId": "R-early", "amount": 1000, "originalMerchantOrderId": "PF-API-1"})
    assert Fault.objects.get().remaining == 1
    complete_order(merchant_order_id="PF-API-1", outcome="success")
    refund = refund_order(data={"merchantRefundId": "R-1", "amount": 1000, "originalMerchantOrderId": "PF-API-1"})
    assert refund.settles_failed and Fault.objects.get().remaining == 0
