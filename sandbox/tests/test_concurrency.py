"""Races the sandbox must win on PostgreSQL (several processes share its state): paying one order twice at once,
refunding past the captured amount from two requests, reusing a refund receipt concurrently, taking one fault use."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from sandbox import faults
from sandbox.errors import PhonePeApiError, RazorpayApiError
from sandbox.models import PhonePeTransaction, RazorpayPayment, RazorpayRefund
from sandbox.phonepe.services import complete_order
from sandbox.phonepe.services import create_order as create_phonepe_order
from sandbox.razorpay.services import create_order, pay_order, refund_payment

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(workers: int, action: Callable[[int], Any]) -> list[Any]:
    """Run `action(i)` in `workers` threads released together; each thread has its own connection."""
    barrier = threading.Barrier(workers)
    results: list[Any] = [None] * workers

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = action(index)
        except (RazorpayApiError, PhonePeApiError) as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_an_order_is_paid_once_when_pay_is_clicked_concurrently(quick_settle):
    order = create_order(data={"amount": 10000, "currency": "INR"})
    results = race(6, lambda _: pay_order(order_id=order.id, outcome="success"))
    assert sum(not isinstance(result, Exception) for result in results) == 1
    assert RazorpayPayment.objects.filter(order=order, status="captured").count() == 1
    order.refresh_from_db()
    assert (order.status, order.amount_paid) == ("paid", 10000)


def test_concurrent_refunds_never_exceed_the_payment(quick_settle):
    order = create_order(data={"amount": 10000, "currency": "INR"})
    payment = pay_order(order_id=order.id, outcome="success").payment
    results = race(6, lambda i: refund_payment(payment_id=payment.id, data={"amount": 3000, "receipt": f"R-{i}"}))
    assert sum(not isinstance(result, Exception) for result in results) == 3
    payment.refresh_from_db()
    assert payment.amount_refunded == 9000 == sum(RazorpayRefund.objects.values_list("amount", flat=True))


def test_concurrent_refunds_with_one_receipt_make_one_refund(quick_settle):
    order = create_order(data={"amount": 10000, "currency": "INR"})
    payment = pay_order(order_id=order.id, outcome="success").payment
    results = race(6, lambda _: refund_payment(payment_id=payment.id, data={"amount": 2000, "receipt": "SAME"}))
    assert {result.refund.id for result in results} == {RazorpayRefund.objects.get().id}
    assert [result.created for result in results].count(True) == 1
    payment.refresh_from_db()
    assert payment.amount_refunded == 2000


def test_a_phonepe_order_completes_once_under_concurrent_clicks(quick_settle):
    create_phonepe_order(
        data={
            "merchantOrderId": "RACE-1",
            "amount": 1000,
            "paymentFlow": {"type": "PG_CHECKOUT", "merchantUrls": {"redirectUrl": "http://x.in/r"}},
        }
    )
    results = race(6, lambda i: complete_order(merchant_order_id="RACE-1", outcome="success" if i % 2 else "failure"))
    assert sum(not isinstance(result, Exception) for result in results) == 1
    assert PhonePeTransaction.objects.filter(order__merchant_order_id="RACE-1").count() == 1


def test_each_fault_use_is_taken_once():
    faults.arm_fault(gateway="razorpay", kind="api_error", count=3)
    results = race(8, lambda _: faults.take_fault(gateway="razorpay", kind="api_error"))
    assert sum(result is not None for result in results) == 3
