"""Razorpay's ways that break kind integrations, each armed per test and watched over HTTP (SDK and webhooks):
manual capture with the uncaptured authorisation auto-refunded after the window, late authorisation (failed, then
authorized and captured), and a second payment on a paid order, auto-refunded at once."""

from __future__ import annotations

import requests


def pay(sandbox, order_id: str, outcome: str = "success") -> requests.Response:
    return requests.post(f"{sandbox.razorpay}/checkout/{order_id}/pay", json={"outcome": outcome}, timeout=10)


def test_manual_capture_order_is_auto_refunded_after_the_window(rzp, sandbox, receiver):
    """payment_capture: 0 on the order; the window is the manual_capture fault's delay (500 gateway s = 0.5 s)."""
    sandbox.arm("razorpay", "manual_capture", delay_seconds=500)
    order = rzp.order.create({"amount": 50000, "currency": "INR", "payment_capture": 0})
    pay_id = pay(sandbox, order["id"]).json()["razorpay_payment_id"]
    held = rzp.payment.fetch(pay_id)
    assert (held["status"], held["captured"]) == ("authorized", False)
    assert rzp.order.fetch(order["id"])["status"] == "attempted"  # authorised is not paid

    refunded = sandbox.wait_for(
        lambda: (entity := rzp.payment.fetch(pay_id))["status"] == "refunded" and entity, what="the auto-refund"
    )
    # Never captured: the money was never received, and Razorpay gave it back by itself.
    assert (refunded["captured"], refunded["amount_refunded"], refunded["refund_status"]) == (False, 50000, "full")
    [refund] = rzp.payment.fetch_multiple_refund(pay_id)["items"]
    assert (refund["amount"], refund["status"]) == (50000, "processed")
    assert rzp.order.fetch(order["id"])["status"] == "attempted"
    receiver.wait_for(3)
    assert receiver.events() == ["payment.authorized", "refund.created", "refund.processed"]
    processed = receiver.received[-1].json()["payload"]
    assert processed["payment"]["entity"]["captured"] is False
    assert processed["payment"]["entity"]["status"] == "refunded"


def test_manual_capture_in_time_is_not_refunded(rzp, sandbox, receiver):
    sandbox.arm("razorpay", "manual_capture", delay_seconds=2000)  # 2 s
    order = rzp.order.create({"amount": 30000, "currency": "INR"})  # the fault makes it manual-capture
    pay_id = pay(sandbox, order["id"]).json()["razorpay_payment_id"]
    assert rzp.payment.fetch(pay_id)["status"] == "authorized"
    assert rzp.payment.capture(pay_id, 30000, {"currency": "INR"})["status"] == "captured"
    sandbox.wait_for(
        lambda: any(job["outcome"] for job in sandbox.jobs() if job["subject"] == pay_id), timeout=10, what="the window"
    )
    [job] = [job for job in sandbox.jobs() if job["subject"] == pay_id]
    assert (job["kind"], job["outcome"]) == ("razorpay_auto_refund", "not authorized")
    assert rzp.payment.fetch(pay_id)["status"] == "captured"


def test_late_authorization_fails_then_is_authorized_and_captured(rzp, sandbox, receiver):
    sandbox.arm("razorpay", "late_authorization", delay_seconds=500)
    order = rzp.order.create({"amount": 40000, "currency": "INR"})
    answer = pay(sandbox, order["id"])
    assert answer.status_code == 400  # Checkout tells the customer it failed
    pay_id = answer.json()["error"]["metadata"]["payment_id"]
    assert rzp.payment.fetch(pay_id)["status"] == "failed"
    assert rzp.order.fetch(order["id"])["status"] == "attempted"  # the order stays open, as Razorpay advises

    captured = sandbox.wait_for(
        lambda: (entity := rzp.payment.fetch(pay_id))["status"] == "captured" and entity, what="the late authorisation"
    )
    assert captured["captured"] is True and captured["error_code"] is None
    assert rzp.order.fetch(order["id"])["status"] == "paid"
    receiver.wait_for(4)
    assert receiver.events() == ["payment.failed", "payment.authorized", "payment.captured", "order.paid"]
    assert {item.json()["payload"]["payment"]["entity"]["id"] for item in receiver.received} == {pay_id}


def test_late_authorization_after_another_payment_paid_the_order_is_refunded(rzp, sandbox, receiver):
    sandbox.arm("razorpay", "late_authorization", delay_seconds=1500)
    order = rzp.order.create({"amount": 40000, "currency": "INR"})
    late_id = pay(sandbox, order["id"]).json()["error"]["metadata"]["payment_id"]
    paid_id = pay(sandbox, order["id"]).json()["razorpay_payment_id"]  # the customer tried again and paid
    refunded = sandbox.wait_for(
        lambda: (entity := rzp.payment.fetch(late_id))["status"] == "refunded" and entity, what="the late payment"
    )
    assert refunded["captured"] is False and refunded["amount_refunded"] == 40000
    assert rzp.payment.fetch(paid_id)["status"] == "captured"
    assert rzp.order.fetch(order["id"])["amount_paid"] == 40000


def test_duplicate_payment_on_a_paid_order_is_auto_refunded_at_once(rzp, sandbox, receiver):
    sandbox.arm("razorpay", "duplicate_payment")
    order = rzp.order.create({"amount": 25000, "currency": "INR"})
    paid_id = pay(sandbox, order["id"]).json()["razorpay_payment_id"]
    payments = rzp.order.payments(order["id"])["items"]
    assert len(payments) == 2
    [duplicate] = [item for item in payments if item["id"] != paid_id]
    assert (duplicate["status"], duplicate["captured"], duplicate["amount_refunded"]) == ("refunded", False, 25000)
    assert rzp.payment.fetch(paid_id)["status"] == "captured"
    order_now = rzp.order.fetch(order["id"])
    assert (order_now["status"], order_now["amount_paid"], order_now["attempts"]) == ("paid", 25000, 1)
    receiver.wait_for(6)
    assert receiver.events() == [
        "payment.authorized",
        "payment.captured",
        "order.paid",
        "payment.authorized",
        "refund.created",
        "refund.processed",
    ]
    assert receiver.received[3].json()["payload"]["payment"]["entity"]["id"] == duplicate["id"]
