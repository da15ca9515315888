"""Faults: the /sandbox/faults/ control API, and each armed fault doing exactly what it says for `count` uses."""

from __future__ import annotations

import base64
import json
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest
import razorpay.errors
import requests
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from sandbox import faults
from sandbox.models import Fault, RazorpayOrder, WebhookDelivery
from sandbox.phonepe.services import complete_order, create_order

FAULTS_URL = "/sandbox/faults/"


@pytest.mark.django_db
def test_faults_api_arms_lists_and_clears(client):
    armed = client.post(
        FAULTS_URL, {"gateway": "razorpay", "fault": "webhook_delay", "count": 2}, content_type="application/json"
    )
    assert armed.status_code == 201
    assert armed.json() | {"id": 0, "armed_at": ""} == {
        "id": 0,
        "gateway": "razorpay",
        "fault": "webhook_delay",
        "count": 2,
        "delay_seconds": 30,
        "armed_at": "",
    }
    client.post(FAULTS_URL, {"gateway": "phonepe", "fault": "api_error"}, content_type="application/json")
    listed = client.get(FAULTS_URL).json()
    assert listed["count"] == 2 and [item["fault"] for item in listed["results"]] == ["webhook_delay", "api_error"]
    assert client.get(FAULTS_URL, {"gateway": "phonepe"}).json()["count"] == 1

    assert client.delete(f"{FAULTS_URL}?gateway=phonepe").status_code == 204
    assert client.get(FAULTS_URL).json()["count"] == 1
    assert client.delete(FAULTS_URL).status_code == 204
    assert client.get(FAULTS_URL).json()["count"] == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"gateway": "razorpay", "fault": "meteor_strike", "count": 1}, "fault"),
        ({"gateway": "stripe", "fault": "api_error", "count": 1}, "gateway"),
        ({"gateway": "razorpay", "fault": "api_error", "count": 0}, "count"),
        ({"gateway": "razorpay", "fault": "api_error", "count": "lots"}, "count"),
    ],
)
def test_faults_api_rejects_bad_input_in_payfirst_shape(client, body, field):
    answer = client.post(FAULTS_URL, body, content_type="application/json")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_input" and field in error["fields"]
    assert not Fault.objects.exists()


@pytest.mark.django_db
def test_take_fault_uses_each_arming_count_times():
    faults.arm_fault(gateway="razorpay", kind="webhook_drop", count=2)
    taken = [faults.take_fault(gateway="razorpay", kind="webhook_drop") for _ in range(3)]
    assert [fault is not None for fault in taken] == [True, True, False]
    assert faults.take_fault(gateway="phonepe", kind="webhook_drop") is None


def test_api_timeout_hold_is_past_the_client_timeout_and_bounded(settings):
    settings.GATEWAY_TIMEOUT_SECONDS = 2
    assert faults.hold_seconds() > 2
    settings.GATEWAY_TIMEOUT_SECONDS = 3600
    assert faults.hold_seconds() == faults.MAX_HOLD_SECONDS


# API faults over real HTTP ---------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_api_error_answers_5xx_in_razorpay_shape_for_count_calls(sandbox, settings, rzp):
    faults.arm_fault(gateway="razorpay", kind="api_error", count=2)
    with pytest.raises(razorpay.errors.ServerError):
        rzp.order.create({"amount": 1000, "currency": "INR"})
    raw = requests.post(
        f"{sandbox.razorpay}/v1/orders",
        json={"amount": 1000, "currency": "INR"},
        auth=(settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET),
        timeout=10,
    )
    assert raw.status_code == 500 and raw.json()["error"]["code"] == "SERVER_ERROR"
    assert not RazorpayOrder.objects.exists()  # an api_error does nothing
    assert rzp.order.create({"amount": 1000, "currency": "INR"})["status"] == "created"


@pytest.mark.django_db(transaction=True)
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
    faults.arm_fault(gateway="phonepe", kind="api_error", count=1)
    headers = {"Authorization": f"O-Bearer {token['access_token']}"}
    failed = httpx.get(f"{sandbox.phonepe}/checkout/v2/order/NOPE/status", headers=headers)
    assert failed.status_code == 500 and failed.json()["code"] == "INTERNAL_SERVER_ERROR"
    assert httpx.get(f"{sandbox.phonepe}/checkout/v2/order/NOPE/status", headers=headers).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_api_timeout_makes_the_client_time_out_but_the_call_takes_effect(sandbox, settings):
    settings.GATEWAY_TIMEOUT_SECONDS = 0.5
    faults.arm_fault(gateway="razorpay", kind="api_timeout", count=1)
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
        conn.settimeout(settings.GATEWAY_TIMEOUT_SECONDS)
        with pytest.raises(TimeoutError):
            conn.recv(1)  # a client waiting GATEWAY_TIMEOUT_SECONDS hears nothing
        conn.settimeout(10)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    held = time.monotonic() - started
    # The answer does come, a bounded while later, and the call took effect: a real lost answer.
    assert faults.hold_seconds() <= held < faults.hold_seconds() + 3
    assert answer.startswith(b"HTTP/1.1 200")
    assert RazorpayOrder.objects.filter(receipt="T-1").count() == 1
    quick = httpx.post(
        f"{sandbox.razorpay}/v1/orders",
        json={"amount": 1000, "currency": "INR"},
        auth=(settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET),
        timeout=settings.GATEWAY_TIMEOUT_SECONDS,
    )
    assert quick.status_code == 200


# Webhook faults --------------------------------------------------------------------------------------------------


def _pay_razorpay_order() -> None:
    from sandbox.razorpay.services import create_order as create_rzp_order
    from sandbox.razorpay.services import pay_order

    order = create_rzp_order(data={"amount": 1000, "currency": "INR"})
    pay_order(order_id=order.id, outcome="success")


@pytest.fixture
def to_receiver(receiver, settings, quick_settle):
    settings.PAYFIRST_PUBLIC_BASE_URL = receiver.url
    return receiver


@pytest.mark.django_db(transaction=True)
def test_webhook_drop_records_but_never_sends(to_receiver, drain):
    faults.arm_fault(gateway="razorpay", kind="webhook_drop", count=1)
    _pay_razorpay_order()
    drain()
    assert to_receiver.events() == ["payment.captured", "order.paid"]
    dropped = WebhookDelivery.objects.get(state=WebhookDelivery.State.DROPPED)
    assert dropped.event == "payment.authorized" and dropped.attempts == 0


@pytest.mark.django_db(transaction=True)
def test_webhook_duplicate_sends_the_same_event_twice(to_receiver, drain):
    faults.arm_fault(gateway="razorpay", kind="webhook_duplicate", count=1)
    _pay_razorpay_order()
    drain()
    assert to_receiver.events() == ["payment.authorized", "payment.authorized", "payment.captured", "order.paid"]
    first, second = to_receiver.received[:2]
    assert first.body == second.body
    assert first.headers["X-Razorpay-Event-Id"] == second.headers["X-Razorpay-Event-Id"]
    assert first.headers["X-Razorpay-Signature"] == second.headers["X-Razorpay-Signature"]


@pytest.mark.django_db(transaction=True)
def test_webhook_reorder_sends_a_batch_backwards(to_receiver, drain):
    faults.arm_fault(gateway="razorpay", kind="webhook_reorder", count=1)
    _pay_razorpay_order()
    _pay_razorpay_order()
    drain()
    assert to_receiver.events() == [
        "order.paid",
        "payment.captured",
        "payment.authorized",
        "payment.authorized",
        "payment.captured",
        "order.paid",
    ]


@pytest.mark.django_db(transaction=True)
def test_webhook_delay_holds_delivery_until_its_time(to_receiver, drain):
    faults.arm_fault(gateway="razorpay", kind="webhook_delay", count=3, delay_seconds=120)
    before = timezone.now()
    _pay_razorpay_order()
    drain()
    assert to_receiver.received == []
    deliveries = list(WebhookDelivery.objects.all())
    assert len(deliveries) == 3
    assert all(d.next_attempt_at >= before + timezone.timedelta(seconds=119) for d in deliveries)
    # Two minutes pass: the deliveries become due.
    DBTaskResult.objects.filter(queue_name="webhooks", status="READY").update(run_after=timezone.now())
    drain()
    assert to_receiver.events() == ["payment.authorized", "payment.captured", "order.paid"]


@pytest.mark.django_db(transaction=True)
def test_webhook_faults_are_per_gateway(to_receiver, drain):
    faults.arm_fault(gateway="razorpay", kind="webhook_drop", count=5)
    create_order(
        data={
            "merchantOrderId": "PF-FAULT-1",
            "amount": 1000,
            "paymentFlow": {"type": "PG_CHECKOUT", "merchantUrls": {"redirectUrl": "http://localhost/r"}},
        }
    )
    complete_order(merchant_order_id="PF-FAULT-1", outcome="success")
    drain()
    assert to_receiver.events() == ["checkout.order.completed"]
    assert Fault.objects.get().remaining == 5
