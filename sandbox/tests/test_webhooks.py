"""The webhook outbox over HTTP: each event is sent from the delivery loop (never inside the request), signed as the
gateway signs it, every attempt recorded; non-2xx answers, time-outs and refused connections are retried on
Razorpay's schedule (exponential from one minute, for 24 hours, compressed by SANDBOX_TIME_SCALE), after which the
endpoint is disabled; and a delivery claimed by a process that died is delivered again."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import threading
import time
from datetime import datetime

import httpx
import pytest

from payfirst.testing.sandbox_server import start_sandbox
from sandbox.signing import razorpay_webhook_signature

RZP = "/sandbox/razorpay/v1"


def paid_order(client, auth, amount: int = 10000) -> tuple[str, str]:
    order = client.post(f"{RZP}/orders", {"amount": amount, "currency": "INR"}, **auth).json()
    paid = client.post(f"/sandbox/razorpay/checkout/{order['id']}/pay", {"outcome": "success"})
    return order["id"], paid.json()["razorpay_payment_id"]


@pytest.fixture
def auth(settings) -> dict:
    token = base64.b64encode(f"{settings.RAZORPAY_KEY_ID}:{settings.RAZORPAY_KEY_SECRET}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


def test_each_event_is_signed_and_recorded(client, auth, sandbox, receiver, settings):
    order_id, pay_id = paid_order(client, auth)
    received = receiver.wait_for(3)
    assert receiver.events() == ["payment.authorized", "payment.captured", "order.paid"]
    sandbox.wait_idle()
    deliveries = sandbox.deliveries(gateway="razorpay")
    assert [d["event"] for d in deliveries] == receiver.events()
    for sent, delivery in zip(received, deliveries, strict=True):
        assert sent.path == "/api/payments/webhook/razorpay/" and sent.body == delivery["body"].encode()
        assert sent.headers["Content-Type"] == "application/json"
        assert sent.headers["X-Razorpay-Event-Id"] == delivery["event_id"]
        assert sent.headers["X-Razorpay-Signature"] == razorpay_webhook_signature(
            webhook_secret=settings.RAZORPAY_WEBHOOK_SECRET, body=sent.body
        )
        assert delivery["state"] == "delivered"
        assert [(a["number"], a["status_code"], a["error"]) for a in delivery["attempts"]] == [(1, 200, "")]
    assert {d["subject"] for d in deliveries} == {pay_id, order_id}


def test_non_2xx_answers_are_retried_until_delivered(client, auth, sandbox, receiver):
    receiver.statuses = [500, 404]
    order = client.post(f"{RZP}/orders", {"amount": 10000, "currency": "INR"}, **auth).json()
    client.post(f"/sandbox/razorpay/checkout/{order['id']}/pay", {"outcome": "failure"})  # one event
    receiver.wait_for(3)
    sandbox.wait_idle()
    [first] = sandbox.deliveries(gateway="razorpay")
    assert first["event"] == "payment.failed" and first["state"] == "delivered"
    assert [(a["number"], a["status_code"], a["error"]) for a in first["attempts"]] == [
        (1, 500, "HTTP 500"),
        (2, 404, "HTTP 404"),
        (3, 200, ""),
    ]
    copies = receiver.received
    assert len(copies) == 3 and len({item.body for item in copies}) == 1
    assert len({item.headers["X-Razorpay-Event-Id"] for item in copies}) == 1


def _started(delivery: dict) -> list[float]:
    return [datetime.fromisoformat(a["started_at"]).timestamp() for a in delivery["attempts"]]


def test_retries_back_off_exponentially_and_the_endpoint_is_disabled_after_24_hours(receiver_server, settings):
    """24 gateway hours in under 9 s: every attempt fails, the waits double from one minute, the last attempt is at
    the end of the window, then the endpoint is disabled and what comes next is not sent."""
    scale = 10000.0
    slack = 0.5 * scale  # half a second of real time for polling and a busy machine
    server = start_sandbox(webhook_base="http://127.0.0.1:9", env={"SANDBOX_TIME_SCALE": str(scale)})  # nobody there
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            auth = (settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET)
            order = http.post(f"{RZP}/orders", json={"amount": 10000, "currency": "INR"}, auth=auth).json()
            http.post(f"/sandbox/razorpay/checkout/{order['id']}/pay", json={"outcome": "failure"})
            [failed] = server.wait_for(
                lambda: [d for d in server.deliveries(gateway="razorpay") if d["state"] == "failed"],
                timeout=30,
                what="the webhook to fail for good",
            )
            starts = _started(failed)
            assert all(a["error"].startswith("connection failed") for a in failed["attempts"])
            waits = [(later - earlier) * scale for earlier, later in zip(starts, starts[1:], strict=False)]
            # 1, 2, 4, ... minutes of gateway time (the loop's polling adds a little), the last one cut at 24 h.
            assert 10 <= len(starts) <= 12, waits
            for number, wait in enumerate(waits[:-1]):
                assert 60 * 2**number <= wait < 60 * 2**number + slack, (number, waits)
            span = (starts[-1] - datetime.fromisoformat(failed["created_at"]).timestamp()) * scale
            assert 24 * 3600 <= span < 24 * 3600 + slack
            endpoints = {e["gateway"]: e for e in http.get("/sandbox/control/endpoints/").json()}
            assert endpoints["razorpay"]["is_disabled"] and not endpoints["phonepe"]["is_disabled"]
            # Disabled: the next event is recorded as skipped and never sent.
            second = http.post(f"{RZP}/orders", json={"amount": 10000, "currency": "INR"}, auth=auth).json()
            http.post(f"/sandbox/razorpay/checkout/{second['id']}/pay", json={"outcome": "failure"})
            latest = server.deliveries(gateway="razorpay")[-1]
            assert latest["state"] == "skipped" and latest["attempts"] == []
            # Enabled again, it is sent.
            assert http.post("/sandbox/control/endpoints/", json={"gateway": "razorpay"}).status_code == 200
            third = http.post(f"{RZP}/orders", json={"amount": 10000, "currency": "INR"}, auth=auth).json()
            http.post(f"/sandbox/razorpay/checkout/{third['id']}/pay", json={"outcome": "failure"})
            assert server.deliveries(gateway="razorpay")[-1]["state"] == "pending"
    finally:
        server.stop()


def test_a_slow_endpoint_times_out_and_is_retried(client, auth, sandbox, receiver):
    receiver.hold = threading.Event()  # the receiver answers nothing until released
    paid_order(client, auth)

    def timed_out() -> list[dict]:
        return [d for d in sandbox.deliveries(gateway="razorpay") if d["attempts"]]

    [first] = sandbox.wait_for(timed_out, timeout=30, what="the first attempt to time out")[:1]
    attempt = first["attempts"][0]
    assert attempt["error"] == "timed out" and attempt["status_code"] is None and attempt["duration_ms"] >= 4000
    receiver.hold.set()
    sandbox.wait_idle()
    authorized = sandbox.deliveries(gateway="razorpay", event="payment.authorized")[0]
    assert authorized["state"] == "delivered" and len(authorized["attempts"]) == 2


def test_phonepe_callbacks_carry_the_static_authorization(client, sandbox, receiver, settings):
    form = (
        f"client_id={settings.PHONEPE_CLIENT_ID}&client_secret={settings.PHONEPE_CLIENT_SECRET}"
        f"&client_version={settings.PHONEPE_CLIENT_VERSION}&grant_type=client_credentials"
    )
    token = client.post("/sandbox/phonepe/v1/oauth/token", form, "application/x-www-form-urlencoded").json()
    body = {
        "merchantOrderId": "PF-CB-1",
        "amount": 1000,
        "paymentFlow": {"type": "PG_CHECKOUT", "merchantUrls": {"redirectUrl": "http://localhost:3000/r"}},
    }
    client.post("/sandbox/phonepe/checkout/v2/pay", body, HTTP_AUTHORIZATION=f"O-Bearer {token['access_token']}")
    client.post("/sandbox/phonepe/pay/PF-CB-1/complete", {"outcome": "success"})
    [sent] = receiver.wait_for(1)
    assert sent.path == "/api/payments/webhook/phonepe/"
    expected = hashlib.sha256(f"{settings.PHONEPE_WEBHOOK_USERNAME}:{settings.PHONEPE_WEBHOOK_PASSWORD}".encode())
    assert sent.headers["Authorization"] == expected.hexdigest()
    assert json.loads(sent.body)["event"] == "checkout.order.completed"
    assert "X-Razorpay-Signature" not in sent.headers


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def test_a_delivery_claimed_by_a_process_that_died_is_delivered_again(receiver_server, settings, tmp_path):
    """The sandbox is killed (SIGKILL) while it waits for the merchant's answer; started again on the same database,
    it sends that webhook again once the dead claim's lease has run out."""
    receiver_server.reset()
    receiver_server.hold = threading.Event()
    env = {"SANDBOX_DELIVERY_THREADS": "1", "SANDBOX_LEASE_SECONDS": "2", "SANDBOX_WEBHOOK_TIMEOUT_SECONDS": "30"}
    first = start_sandbox(webhook_base=receiver_server.url, env=env, workdir=tmp_path)
    database_url = first.postgres[0] if first.postgres else f"sqlite:///{tmp_path / 'sandbox.sqlite3'}"
    auth = (settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET)
    with httpx.Client(base_url=first.url, timeout=10) as http:
        order = http.post(f"{RZP}/orders", json={"amount": 10000, "currency": "INR"}, auth=auth).json()
        http.post(f"/sandbox/razorpay/checkout/{order['id']}/pay", json={"outcome": "failure"})
    deadline = time.monotonic() + 20
    while not receiver_server.arrivals:  # the request reached the merchant, who has not answered yet
        assert time.monotonic() < deadline
        time.sleep(0.02)
    for pid in [*_children(first.process.pid), first.process.pid]:  # gunicorn's worker, then its master
        os.kill(pid, signal.SIGKILL)
    first.process.wait(timeout=10)
    first.stop(keep_database=True)
    receiver_server.hold.set()
    receiver_server.hold = None
    second = start_sandbox(webhook_base=receiver_server.url, env=env, workdir=tmp_path, database_url=database_url)
    second.postgres = first.postgres  # dropped when the second server stops
    try:
        second.wait_idle(horizon=5)
        [delivery] = second.deliveries(gateway="razorpay")
        assert delivery["event"] == "payment.failed" and delivery["state"] == "delivered"
        # Attempt 1 died with its process (no record); attempt 2 was made after the lease ran out.
        assert [a["number"] for a in delivery["attempts"]] == [2]
        held, resent = receiver_server.received  # the held first copy, answered to a dead socket, and the resend
        assert held.body == resent.body and json.loads(resent.body)["event"] == "payment.failed"
        assert held.headers["X-Razorpay-Event-Id"] == resent.headers["X-Razorpay-Event-Id"]
    finally:
        second.stop()
        receiver_server.reset()
