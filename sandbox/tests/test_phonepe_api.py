"""PhonePe v2 endpoints in detail: OAuth, O-Bearer enforcement, pay validation (2.4), status and refund rules."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from sandbox.models import PhonePeOrder, PhonePeRefund, PhonePeToken

pytestmark = pytest.mark.django_db

PP = "/sandbox/phonepe"


def token_form(settings, **changes) -> str:
    return urlencode(
        {
            "client_id": settings.PHONEPE_CLIENT_ID,
            "client_secret": settings.PHONEPE_CLIENT_SECRET,
            "client_version": str(settings.PHONEPE_CLIENT_VERSION),
            "grant_type": "client_credentials",
            **changes,
        }
    )


def fetch_token(client, form: str):
    return client.post(f"{PP}/v1/oauth/token", form, content_type="application/x-www-form-urlencoded")


@pytest.fixture
def bearer(client, settings) -> dict:
    token = fetch_token(client, token_form(settings)).json()
    return {"HTTP_AUTHORIZATION": f"O-Bearer {token['access_token']}"}


def pay_body(**changes) -> dict:
    body = {
        "merchantOrderId": "PF-API-1",
        "amount": 1000,
        "metaInfo": None,
        "expireAfter": None,
        "paymentFlow": {
            "type": "PG_CHECKOUT",
            "message": None,
            "paymentModeConfig": None,
            "merchantUrls": {"redirectUrl": "http://localhost:3000/r"},
        },
        "disablePaymentRetry": None,
    }
    body.update(changes)
    return body


def post(client, path, body, bearer):
    return client.post(f"{PP}{path}", body, content_type="application/json", **bearer)


def test_token_answer_shape(client, settings):
    answer = fetch_token(client, token_form(settings))
    body = answer.json()
    assert answer.status_code == 200 and body["token_type"] == "O-Bearer"
    assert isinstance(body["issued_at"], int) and isinstance(body["expires_at"], int)
    assert body["expires_at"] - body["issued_at"] == 3600
    stored = PhonePeToken.objects.get()
    assert body["access_token"] not in (stored.token_digest, stored.client_id)  # only a digest is kept


@pytest.mark.parametrize(
    "changes", [{"client_secret": "nope"}, {"client_id": "OTHER"}, {"client_version": "2"}, {"grant_type": "password"}]
)
def test_token_refuses_bad_client(client, settings, changes):
    answer = fetch_token(client, token_form(settings, **changes))
    assert answer.status_code == 400
    assert answer.json()["code"] == "INVALID_CLIENT" and answer.json()["errorCode"] == "OIM000"
    assert settings.PHONEPE_CLIENT_SECRET not in answer.content.decode()


@pytest.mark.parametrize("header", [None, "Bearer abc", "O-Bearer", "O-Bearer not-a-token"])
def test_api_requires_an_issued_o_bearer_token(client, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    answer = client.get(f"{PP}/checkout/v2/order/PF-API-1/status", **extra)
    assert answer.status_code == 401 and answer.json()["code"] == "AUTHORIZATION_FAILED"


def test_expired_token_is_refused(client, bearer):
    PhonePeToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(f"{PP}/checkout/v2/order/X/status", **bearer).status_code == 401


def test_pay_accepts_explicit_nulls_and_answers_phonepe_shape(client, bearer):
    answer = post(client, "/checkout/v2/pay", pay_body(), bearer)
    body = answer.json()
    assert answer.status_code == 200 and set(body) == {"orderId", "state", "expireAt", "redirectUrl"}
    assert body["orderId"].startswith("OMO") and len(body["orderId"]) == 25 and body["state"] == "PENDING"
    order = PhonePeOrder.objects.get()
    assert body["expireAt"] == int(order.expire_at.timestamp() * 1000)
    assert (order.expire_at - order.created_at) == timedelta(seconds=1200)
    assert body["redirectUrl"] == "http://testserver/sandbox/phonepe/pay/PF-API-1/"


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": 99},
        {"amount": 100.0},
        {"amount": "1000"},
        {"merchantOrderId": "has space"},
        {"merchantOrderId": "x" * 64},
        {"expireAfter": 299},
        {"expireAfter": 3601},
        {"metaInfo": {"udf11": "no#hash"}},
        {"metaInfo": {"udf1": "x" * 257}},
        {"paymentFlow": {"type": "PG_CHECKOUT", "merchantUrls": {}}},
        {"paymentFlow": {"type": "OTHER", "merchantUrls": {"redirectUrl": "http://localhost/r"}}},
        {"paymentFlow": None},
        {"disablePaymentRetry": "yes"},
    ],
)
def test_pay_validation(client, bearer, changes):
    answer = post(client, "/checkout/v2/pay", pay_body(**changes), bearer)
    assert answer.status_code == 400 and answer.json()["code"] == "BAD_REQUEST"
    assert not PhonePeOrder.objects.exists()


def test_pay_refuses_a_repeated_merchant_order_id(client, bearer):
    assert post(client, "/checkout/v2/pay", pay_body(), bearer).status_code == 200
    again = post(client, "/checkout/v2/pay", pay_body(amount=2000), bearer)
    assert again.status_code == 400 and again.json()["code"] == "ORDER_ALREADY_EXISTS"
    assert PhonePeOrder.objects.count() == 1


@pytest.mark.parametrize(
    ("raw", "ok"), [("True", True), ("true", True), ("FALSE", True), ("false", True), ("maybe", False)]
)
def test_order_status_details_is_case_insensitive(client, bearer, raw, ok):
    post(client, "/checkout/v2/pay", pay_body(), bearer)
    answer = client.get(f"{PP}/checkout/v2/order/PF-API-1/status", {"details": raw}, **bearer)
    assert answer.status_code == (200 if ok else 400)


def test_expired_order_reads_failed_and_cannot_be_paid(client, bearer):
    post(client, "/checkout/v2/pay", pay_body(), bearer)
    PhonePeOrder.objects.update(expire_at=timezone.now() - timedelta(seconds=1))
    status = client.get(f"{PP}/checkout/v2/order/PF-API-1/status", **bearer).json()
    assert status["state"] == "FAILED" and status["errorCode"] == "TXN_EXPIRED"
    answer = client.post(f"{PP}/pay/PF-API-1/complete", {"outcome": "success"}, content_type="application/json")
    assert answer.status_code == 409


def test_refund_rules(client, bearer):
    post(client, "/checkout/v2/pay", pay_body(), bearer)
    refund = {"merchantRefundId": "R-1", "amount": 600, "originalMerchantOrderId": "PF-API-1"}
    early = post(client, "/payments/v2/refund", refund, bearer)
    assert early.status_code == 400  # not paid yet
    client.post(f"{PP}/pay/PF-API-1/complete", {"outcome": "success"}, content_type="application/json")
    first = post(client, "/payments/v2/refund", refund, bearer)
    assert first.status_code == 200 and first.json()["state"] == "PENDING" and first.json()["amount"] == 600
    repeated = post(client, "/payments/v2/refund", refund, bearer)
    assert repeated.status_code == 400 and repeated.json()["code"] == "DUPLICATE_REFUND_ID"
    too_much = post(client, "/payments/v2/refund", {**refund, "merchantRefundId": "R-2", "amount": 401}, bearer)
    assert too_much.status_code == 400
    rest = post(client, "/payments/v2/refund", {**refund, "merchantRefundId": "R-3", "amount": 400}, bearer)
    assert rest.status_code == 200
    assert PhonePeOrder.objects.get().amount_refunded == 1000 and PhonePeRefund.objects.count() == 2
    unknown = post(
        client, "/payments/v2/refund", {**refund, "merchantRefundId": "R-4", "originalMerchantOrderId": "NOPE"}, bearer
    )
    assert unknown.status_code == 404
    assert client.get(f"{PP}/payments/v2/refund/NOPE/status", **bearer).status_code == 404
    status = client.get(f"{PP}/payments/v2/refund/R-1/status", **bearer).json()
    assert (status["state"], status["amount"], status["originalMerchantOrderId"]) == ("PENDING", 600, "PF-API-1")
    assert status["paymentDetails"][0]["paymentMode"] == "UPI_INTENT"


def test_refund_moves_pending_confirmed_completed(client, bearer, quick_settle, drain, receiver, settings):
    settings.PAYFIRST_PUBLIC_BASE_URL = receiver.url
    post(client, "/checkout/v2/pay", pay_body(), bearer)
    client.post(f"{PP}/pay/PF-API-1/complete", {"outcome": "success"}, content_type="application/json")
    post(
        client,
        "/payments/v2/refund",
        {"merchantRefundId": "R-1", "amount": 1000, "originalMerchantOrderId": "PF-API-1"},
        bearer,
    )
    drain()
    assert client.get(f"{PP}/payments/v2/refund/R-1/status", **bearer).json()["state"] == "COMPLETED"
    assert [(item.json()["event"], item.json()["payload"]["state"]) for item in receiver.received] == [
        ("checkout.order.completed", "COMPLETED"),
        ("pg.refund.accepted", "CONFIRMED"),
        ("pg.refund.completed", "COMPLETED"),
    ]
