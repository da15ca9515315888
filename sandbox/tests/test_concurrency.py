"""Races over HTTP against the sandbox server: concurrent Pay clicks pay an order once, concurrent refunds never
exceed the payment, concurrent refunds under one X-Refund-Idempotency key make one refund, and a PhonePe order
completes once. The database decides (row locks and conditional UPDATEs), on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx

RZP = "/sandbox/razorpay/v1"
PP = "/sandbox/phonepe"


def race(count: int, call: Callable[[httpx.Client], httpx.Response], base: str) -> list[httpx.Response]:
    """Run `call` from `count` threads released together; each has its own connection."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def worker(index: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            barrier.wait()
            results[index] = call(http)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_an_order_is_paid_once_when_pay_is_clicked_concurrently(sandbox, rzp):
    order = rzp.order.create({"amount": 10000, "currency": "INR"})
    answers = race(
        8,
        lambda http: http.post(f"/sandbox/razorpay/checkout/{order['id']}/pay", json={"outcome": "success"}),
        sandbox.url,
    )
    assert sorted(answer.status_code for answer in answers) == [200] + [400] * 7
    payments = rzp.order.payments(order["id"])["items"]
    assert [payment["status"] for payment in payments] == ["captured"]
    assert rzp.order.fetch(order["id"])["amount_paid"] == 10000


def _paid(sandbox, rzp, amount: int) -> str:
    order = rzp.order.create({"amount": amount, "currency": "INR"})
    return httpx.post(f"{sandbox.razorpay}/checkout/{order['id']}/pay", json={"outcome": "success"}, timeout=10).json()[
        "razorpay_payment_id"
    ]


def test_concurrent_refunds_never_exceed_the_payment(sandbox, rzp, settings):
    pay_id = _paid(sandbox, rzp, 10000)
    auth = (settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET)
    answers = race(
        10, lambda http: http.post(f"{RZP}/payments/{pay_id}/refund", json={"amount": 3000}, auth=auth), sandbox.url
    )
    assert sorted(answer.status_code for answer in answers) == [200] * 3 + [400] * 7
    refunds = rzp.payment.fetch_multiple_refund(pay_id)["items"]
    assert sum(item["amount"] for item in refunds) == 9000 == rzp.payment.fetch(pay_id)["amount_refunded"]


def test_concurrent_refunds_with_one_idempotency_key_make_one_refund(sandbox, rzp, settings):
    pay_id = _paid(sandbox, rzp, 10000)
    auth = (settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET)
    headers = {"X-Refund-Idempotency": "race-refund-key-1"}
    answers = race(
        8,
        lambda http: http.post(f"{RZP}/payments/{pay_id}/refund", json={"amount": 1000}, auth=auth, headers=headers),
        sandbox.url,
    )
    assert {answer.status_code for answer in answers} == {200}
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert rzp.payment.fetch_multiple_refund(pay_id)["count"] == 1


def test_a_phonepe_order_completes_once_under_concurrent_clicks(sandbox, client, settings):
    form = (
        f"client_id={settings.PHONEPE_CLIENT_ID}&client_secret={settings.PHONEPE_CLIENT_SECRET}"
        f"&client_version={settings.PHONEPE_CLIENT_VERSION}&grant_type=client_credentials"
    )
    token = client.post(f"{PP}/v1/oauth/token", form, "application/x-www-form-urlencoded").json()
    bearer = f"O-Bearer {token['access_token']}"
    body = {
        "merchantOrderId": "RACE-1",
        "amount": 1000,
        "paymentFlow": {"type": "PG_CHECKOUT", "merchantUrls": {"redirectUrl": "http://localhost:3000/r"}},
    }
    assert client.post(f"{PP}/checkout/v2/pay", body, HTTP_AUTHORIZATION=bearer).status_code == 200
    answers = race(8, lambda http: http.post(f"{PP}/pay/RACE-1/complete", json={"outcome": "success"}), sandbox.url)
    assert sorted(answer.status_code for answer in answers) == [200] + [409] * 7
    status = client.get(f"{PP}/checkout/v2/order/RACE-1/status", {"details": "true"}, HTTP_AUTHORIZATION=bearer)
    assert [attempt["state"] for attempt in status.json()["paymentDetails"]] == ["COMPLETED"]
