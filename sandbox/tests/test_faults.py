"""The faults API (arm, list, clear) and each fault's effect, over HTTP: API faults answer in the gateway's own shape
(api_error, api_timeout; rate_limit is in test_razorpay_api.py), webhook faults change what is sent."""

from __future__ import annotations

import base64
import json
import socket
import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
import razorpay.errors
import requests

FAULTS_URL = "/sandbox/faults/"
RZP = "/sandbox/razorpay/v1"
KINDS = [
    "api_error",
    "api_timeout",
    "rate_limit",
    "webhook_drop",
    "webhook_duplicate",
    "webhook_delay",
    "webhook_reorder",
    "refund_failure",
    "manual_capture",
    "late_authorization",
    "duplicate_payment",
    "failed_attempt",
    "order_expiry",
]


def test_faults_api_arms_lists_and_clears(client):
    armed = client.post(FAULTS_URL, {"gateway": "razorpay", "fault": "webhook_delay", "count": 2})
    assert armed.status_code == 201
    assert armed.json() | {"id": 0, "armed_at": ""} == {
        "id": 0,
        "gateway": "razorpay",
        "fault": "webhook_delay",
        "count": 2,
        "delay_seconds": 30,
        "armed_at": "",
    }
    client.post(FAULTS_URL, {"gateway": "phonepe", "fault": "api_error"})
    listed = client.get(FAULTS_URL).json()
    assert listed["count"] == 2 and [item["fault"] for item in listed["results"]] == ["webhook_delay", "api_error"]
    assert client.get(FAULTS_URL, {"gateway": "phonepe"}).json()["count"] == 1
    assert client.delete(f"{FAULTS_URL}?gateway=phonepe").status_code == 204
    assert client.get(FAULTS_URL).json()["count"] == 1
    assert client.delete(FAULTS_URL).status_code == 204
    assert client.get(FAULTS_URL).json()["count"] == 0


@pytest.mark.parametrize("kind", KINDS)
def test_every_documented_fault_can_be_armed(client, kind):
    armed = client.post(FAULTS_URL, {"gateway": "razorpay", "fault": kind, "count": 1})
    assert armed.status_code == 201 and armed.json()["fault"] == kind


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"gateway": "razorpay", "fault": "meteor_strike", "count": 1}, "fault"),
        ({"gateway": "stripe", "fault": "api_error", "count": 1}, "gateway"),
        ({"gateway": "razorpay", "fault": "api_error", "count": 0}, "count"),
        ({"gateway": "razorpay", "fault": "api_error", "count": "lots"}, "count"),
    ],
)
def test_faults_api_rejects_bad_input_in_its_error_shape(client, body, field):
    answer = client.post(FAULTS_URL, body)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_input" and field in error["fields"]
    assert client.get(FAULTS_URL).json()["count"] == 0


# API faults ------------------------------------------------------------------------------------------------------


def test_api_error_answers_5xx_in_razorpay_shape_for_count_calls(sandbox, settings, rzp, client):
    sandbox.arm("razorpay", "api_error", count=2)
    with pytest.raises(razorpay.errors.ServerError):
        rzp.order.create({"amount": 1000, "currency": "INR"})
    raw = requests.post(
        f"{sandbox.razorpay}/v1/orders",
        json={"amount": 1000, "currency": "INR"},
        auth=(settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET),
        timeout=10,
    )
    assert raw.status_code == 500 and raw.json()["error"]["code"] == "SERVER_ERROR"
    assert rzp.order.all()["count"] == 0  # an api_error does nothing
    assert rzp.order.create({"amount": 1000, "currency": "INR"})["status"] == "created"


def test_api_error_answers_5xx_in_phonepe_shape(sandbox, settings):
    token = httpx.post(
        f"{sandbox.phonepe}/v1/oauth/token",
        data={
            "client_id": settings.PHONEPE_CLIENT_ID,
            "client_secret": settings.PHONEPE_CLIENT_SECRET,
            "client_version": str(settings.PHONEPE_CLIENT_VERSION),
            "grant_type": "client_credentials",
        },
    ).json()
    sandbox.arm("phonepe", "api_error")
    headers = {"Authorization": f"O-Bearer {token['access_token']}"}
    failed = httpx.get(f"{sandbox.phonepe}/checkout/v2/order/NOPE/status", headers=headers)
    assert failed.status_code == 500 and failed.json()["code"] == "INTERNAL_SERVER_ERROR"
    assert httpx.get(f"{sandbox.phonepe}/checkout/v2/order/NOPE/status", headers=headers).status_code == 404
    sandbox.arm("phonepe", "rate_limit")
    limited = httpx.get(f"{sandbox.phonepe}/checkout/v2/order/NOPE/status", headers=headers)
    assert limited.status_code == 429 and limited.json()["code"] == "TOO_MANY_REQUESTS"


def test_api_timeout_makes_the_client_time_out_but_the_call_takes_effect(sandbox, settings, rzp):
    """The tests' sandbox holds an api_timeout answer for SANDBOX_HOLD_SECONDS=6, past a 5 s client time-out."""
    client_timeout, hold = 1.0, 6.0
    sandbox.arm("razorpay", "api_timeout")
    auth = base64.b64encode(f"{settings.RAZORPAY_KEY_ID}:{settings.RAZORPAY_KEY_SECRET}".encode()).decode()
    body = json.dumps({"amount": 1000, "currency": "INR", "receipt": "T-1"}).encode()
    url = urlsplit(sandbox.url)
    request = (
        f"POST /sandbox/razorpay/v1/orders HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Basic {auth}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    started = time.monotonic()
    with socket.create_connection((url.hostname, url.port), timeout=10) as conn:
        conn.sendall(request + body)
        conn.settimeout(client_timeout)
        with pytest.raises(TimeoutError):
            conn.recv(1)  # a client waiting its time-out hears nothing
        conn.settimeout(15)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    held = time.monotonic() - started
    # The answer does come, a bounded while later, and the call took effect: a real lost answer.
    assert hold <= held < hold + 3
    assert answer.startswith(b"HTTP/1.1 200")
    assert rzp.order.all({"receipt": "T-1"})["count"] == 1
    assert rzp.order.create({"amount": 1000, "currency": "INR"})["status"] == "created"


# Webhook faults --------------------------------------------------------------------------------------------------


def _pay_razorpay_order(client, settings) -> None:
    token = base64.b64encode(f"{settings.RAZORPAY_KEY_ID}:{settings.RAZORPAY_KEY_SECRET}".encode()).decode()
    order = client.post(f"{RZP}/orders", {"amount": 1000, "currency": "INR"}, HTTP_AUTHORIZATION=f"Basic {token}")
    paid = client.post(f"/sandbox/razorpay/checkout/{order.json()['id']}/pay", {"outcome": "success"})
    assert paid.status_code == 200, paid.text


def test_webhook_drop_records_but_never_sends(client, sandbox, receiver, settings):
    sandbox.arm("razorpay", "webhook_drop")
    _pay_razorpay_order(client, settings)
    receiver.wait_for(2)
    sandbox.wait_idle()
    assert receiver.events() == ["payment.captured", "order.paid"]
    [dropped] = sandbox.deliveries(state="dropped")
    assert dropped["event"] == "payment.authorized" and dropped["attempts"] == []


def test_webhook_duplicate_sends_the_same_event_twice(client, sandbox, receiver, settings):
    sandbox.arm("razorpay", "webhook_duplicate")
    _pay_razorpay_order(client, settings)
    receiver.wait_for(4)
    assert receiver.events() == ["payment.authorized", "payment.authorized", "payment.captured", "order.paid"]
    first, second = receiver.received[:2]
    assert first.body == second.body
    assert first.headers["X-Razorpay-Event-Id"] == second.headers["X-Razorpay-Event-Id"]
    assert first.headers["X-Razorpay-Signature"] == second.headers["X-Razorpay-Signature"]


def test_webhook_reorder_sends_a_batch_backwards(client, sandbox, receiver, settings):
    sandbox.arm("razorpay", "webhook_reorder")
    _pay_razorpay_order(client, settings)
    _pay_razorpay_order(client, settings)
    receiver.wait_for(6)
    assert receiver.events() == [
        "order.paid",
        "payment.captured",
        "payment.authorized",
        "payment.authorized",
        "payment.captured",
        "order.paid",
    ]


def test_webhook_delay_holds_delivery_until_its_time(client, sandbox, receiver, settings):
    """120 gateway seconds are 0.12 s at the tests' time scale of 1000."""
    sandbox.arm("razorpay", "webhook_delay", count=3, delay_seconds=120)
    before = datetime.now().astimezone()
    _pay_razorpay_order(client, settings)
    deliveries = sandbox.deliveries(gateway="razorpay")
    assert len(deliveries) == 3
    assert all(datetime.fromisoformat(d["created_at"]) >= before for d in deliveries)
    for delivery in deliveries:
        due = datetime.fromisoformat(delivery["next_attempt_at"] or delivery["attempts"][0]["started_at"])
        assert due - datetime.fromisoformat(delivery["created_at"]) >= timedelta(seconds=0.12)
    receiver.wait_for(3)
    assert receiver.events() == ["payment.authorized", "payment.captured", "order.paid"]


def test_webhook_faults_are_per_gateway(client, sandbox, receiver, settings):
    sandbox.arm("razorpay", "webhook_drop", count=5)
    form = (
        f"client_id={settings.PHONEPE_CLIENT_ID}&client_secret={settings.PHONEPE_CLIENT_SECRET}"
        f"&client_version={settings.PHONEPE_CLIENT_VERSION}&grant_type=client_credentials"
    )
    token = client.post("/sandbox/phonepe/v1/oauth/token", form, "application/x-www-form-urlencoded").json()
    body = {
        "merchantOrderId": "PF-FAULT-1",
        "amount": 1000,
        "paymentFlow": {"type": "PG_CHECKOUT", "merchantUrls": {"redirectUrl": "http://localhost:3000/r"}},
    }
    client.post("/sandbox/phonepe/checkout/v2/pay", body, HTTP_AUTHORIZATION=f"O-Bearer {token['access_token']}")
    client.post("/sandbox/phonepe/pay/PF-FAULT-1/complete", {"outcome": "success"})
    receiver.wait_for(1)
    assert receiver.events() == ["checkout.order.completed"]
    [fault] = client.get(FAULTS_URL).json()["results"]
    assert (fault["fault"], fault["count"]) == ("webhook_drop", 5)


def test_the_sandbox_describes_itself_in_openapi(client):
    schema = client.get("/sandbox/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/sandbox/faults/", "/sandbox/control/deliveries/", "/sandbox/razorpay/v1/orders"):
        assert path in paths
