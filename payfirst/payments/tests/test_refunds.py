"""Refunds: the staff endpoint (full, partial, over-refund, states, who may see what, Idempotency-Key), the gateway
failing and the retry sending exactly one refund, refund webhooks duplicated and reordered, FLAGGED payments, and
concurrent refund requests on PostgreSQL never exceeding the captured amount."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from payfirst.catalog.models import Slot
from payfirst.core.errors import AppError, InvalidState
from payfirst.gateways.base import EventKind, GatewayStatus, GatewayUnavailable
from payfirst.gateways.base import RefundStatus as GatewayRefundStatus
from payfirst.ops.tasks import run_queued_tasks
from payfirst.payments import services
from payfirst.payments.errors import RefundExceedsCaptured
from payfirst.payments.models import Payment, PaymentEvent, Refund, RefundStatus, WebhookEvent, WebhookOutcome
from payfirst.payments.refunds import refund_payment, request_refund, retry_delay, retry_pending_refunds
from payfirst.payments.states import EventSource, PaymentStatus
from payfirst.payments.tests.flows import (
    assert_every_capture_is_fulfilled_or_refunded,
    hold_refunds_pending,
    open_payment,
    pay,
    receive_and_process,
    settle_refund,
)
from payfirst.payments.webhooks import redrive_webhook
from payfirst.testing import factories

S = PaymentStatus
TOTAL = 449700  # mixed_cart


def url(payment: Payment) -> str:
    return f"/api/payments/{payment.pk}/refunds/"


@pytest.fixture
def captured(user, address, mixed_cart, fake_razorpay) -> Payment:
    return pay(user=user, address=address, fake=fake_razorpay)


def later(minutes: int = 120):
    return timezone.now() + timedelta(minutes=minutes)


# ---- the endpoint ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_full_refund_without_amount_refunds_the_whole_payment(staff_client, staff_user, captured, fake_razorpay):
    response = staff_client.post(url(captured), {"reason": "Customer changed their mind"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {
        "id",
        "payment_id",
        "amount",
        "status",
        "reason",
        "gateway_refund_id",
        "created_at",
        "processed_at",
    }
    assert (body["payment_id"], body["amount"], body["status"]) == (captured.pk, TOTAL, "PROCESSED")
    assert body["gateway_refund_id"].startswith("frfnd_") and body["processed_at"] is not None
    captured.refresh_from_db()
    assert (captured.status, captured.refunded_amount) == (S.REFUNDED, TOTAL)
    assert len(fake_razorpay.refunds) == 1
    gateway_refund = next(iter(fake_razorpay.refunds.values()))
    assert gateway_refund.reference == Refund.objects.get().reference and gateway_refund.amount.value == TOTAL
    events = list(PaymentEvent.objects.filter(payment=captured).order_by("id").values_list("to_status", "source"))
    assert events[-2:] == [(S.CAPTURED, "api"), (S.REFUNDED, "api")]
    assert PaymentEvent.objects.filter(payment=captured, actor=staff_user, detail__contains="requested").exists()


@pytest.mark.django_db
def test_partial_refunds_then_the_rest(staff_client, captured):
    first = staff_client.post(url(captured), {"amount": 99800, "reason": "Diyas arrived broken"}, format="json")
    assert first.status_code == 201 and first.json()["amount"] == 99800
    captured.refresh_from_db()
    assert (captured.status, captured.refunded_amount) == (S.PARTIALLY_REFUNDED, 99800)
    second = staff_client.post(url(captured), {"amount": 100, "reason": "Goodwill"}, format="json")
    assert second.status_code == 201
    captured.refresh_from_db()
    assert (captured.status, captured.refunded_amount) == (S.PARTIALLY_REFUNDED, 99900)
    rest = staff_client.post(url(captured), {"reason": "Cancelled the rest"}, format="json")
    assert rest.status_code == 201 and rest.json()["amount"] == TOTAL - 99900
    captured.refresh_from_db()
    assert (captured.status, captured.refunded_amount) == (S.REFUNDED, TOTAL)
    listing = staff_client.get(url(captured)).json()
    assert listing["count"] == 3 and [r["amount"] for r in listing["results"]] == [TOTAL - 99900, 100, 99800]


@pytest.mark.django_db
def test_over_refund_is_refused_and_nothing_is_recorded(staff_client, captured, fake_razorpay):
    too_much = staff_client.post(url(captured), {"amount": TOTAL + 1, "reason": "x"}, format="json")
    assert too_much.status_code == 400 and too_much.json()["error"]["code"] == "refund_exceeds_captured"
    assert staff_client.post(url(captured), {"amount": TOTAL - 100, "reason": "x"}, format="json").status_code == 201
    over = staff_client.post(url(captured), {"amount": 101, "reason": "x"}, format="json")
    assert over.status_code == 400 and over.json()["error"]["code"] == "refund_exceeds_captured"
    assert staff_client.post(url(captured), {"amount": 100, "reason": "x"}, format="json").status_code == 201
    nothing_left = staff_client.post(url(captured), {"reason": "again"}, format="json")
    assert nothing_left.status_code == 400 and nothing_left.json()["error"]["code"] == "refund_exceeds_captured"
    assert Refund.objects.count() == 2 and len(fake_razorpay.refunds) == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"reason": "x", "amount": 0},
        {"reason": "x", "amount": -5},
        {"reason": "x", "amount": "lots"},
        {"reason": "x", "amount": 1.5},
    ],
)
def test_bad_refund_input_is_400_invalid_input(staff_client, captured, body):
    response = staff_client.post(url(captured), body, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_input"
    assert not Refund.objects.exists()


@pytest.mark.django_db
def test_refunding_a_payment_that_was_not_captured_is_409(staff_client, user, address, mixed_cart, fake_razorpay):
    pending = open_payment(user=user, address=address)
    response = staff_client.post(url(pending), {"reason": "x"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "invalid_state"
    failed = factories.make_bare_payment(user=user, status=S.FAILED, gateway_order_id="forder_x")
    assert staff_client.post(url(failed), {"reason": "x"}, format="json").status_code == 409
    assert not Refund.objects.exists()


@pytest.mark.django_db
def test_who_may_read_and_refund(api_client, auth_client, other_client, staff_client, captured):
    assert api_client.get(url(captured)).status_code == 401
    assert api_client.post(url(captured), {"reason": "x"}, format="json").status_code == 401
    owner_post = auth_client.post(url(captured), {"reason": "I want my money"}, format="json")
    assert owner_post.status_code == 403 and owner_post.json()["error"]["code"] == "forbidden"
    assert other_client.post(url(captured), {"reason": "x"}, format="json").status_code == 403
    assert not Refund.objects.exists()
    staff_client.post(url(captured), {"amount": 100, "reason": "Goodwill"}, format="json")
    owner_view = auth_client.get(url(captured))
    assert owner_view.status_code == 200 and owner_view.json()["results"][0]["amount"] == 100
    assert other_client.get(url(captured)).status_code == 404
    assert staff_client.get("/api/payments/999999999/refunds/").status_code == 404
    assert staff_client.get("/api/payments/abc/refunds/").status_code == 404
    assert staff_client.post("/api/payments/999999999/refunds/", {"reason": "x"}, format="json").status_code == 404


@pytest.mark.django_db
def test_idempotency_key_replays_the_first_refund(staff_client, captured, fake_razorpay):
    body = {"amount": 5000, "reason": "Late delivery"}
    first = staff_client.post(url(captured), body, format="json", HTTP_IDEMPOTENCY_KEY="refund-1")
    again = staff_client.post(url(captured), body, format="json", HTTP_IDEMPOTENCY_KEY="refund-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Refund.objects.count() == 1 and len(fake_razorpay.refunds) == 1
    other = staff_client.post(url(captured), {**body, "amount": 6000}, format="json", HTTP_IDEMPOTENCY_KEY="refund-1")
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    # A refused request is replayed as refused too.
    refused = {"amount": TOTAL, "reason": "too much"}
    assert staff_client.post(url(captured), refused, format="json", HTTP_IDEMPOTENCY_KEY="r2").status_code == 400
    assert staff_client.post(url(captured), refused, format="json", HTTP_IDEMPOTENCY_KEY="r2").status_code == 400
    assert Refund.objects.count() == 1


# ---- the gateway failing, retries ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_gateway_down_leaves_the_refund_pending_and_the_retry_sends_exactly_one(staff_client, captured, fake_razorpay):
    fake_razorpay.fail_next("refund", GatewayUnavailable("timed out"), times=2)
    response = staff_client.post(url(captured), {"reason": "Out of stock"}, format="json")
    assert response.status_code == 201 and response.json()["status"] == "PENDING"
    refund = Refund.objects.get()
    assert refund.attempts == 1 and "timed out" in refund.error and not refund.gateway_refund_id
    captured.refresh_from_db()
    assert (captured.status, captured.refunded_amount) == (S.CAPTURED, 0)  # only processed refunds move the payment
    # Not due yet: the backoff holds it back.
    assert retry_pending_refunds(now=timezone.now()) == {}
    assert retry_pending_refunds(now=later()) == {"errors": 1}
    assert retry_pending_refunds(now=later(240)) == {"processed": 1}
    assert retry_pending_refunds(now=later(480)) == {}
    refund.refresh_from_db()
    captured.refresh_from_db()
    assert (refund.status, refund.attempts, refund.error) == (RefundStatus.PROCESSED, 3, "")
    assert (captured.status, captured.refunded_amount) == (S.REFUNDED, TOTAL)
    assert fake_razorpay.calls["refund"] == 3 and len(fake_razorpay.refunds) == 1


@pytest.mark.django_db
def test_an_answer_lost_after_the_gateway_refunded_is_not_refunded_twice(captured, fake_razorpay, staff_user):
    original = fake_razorpay.refund

    def refund_then_lose_the_answer(**kwargs):
        original(**kwargs)
        raise GatewayUnavailable("connection reset after the request was sent")

    fake_razorpay.refund = refund_then_lose_the_answer
    refund = refund_payment(payment_id=captured.pk, amount=None, reason="x", actor_id=staff_user.pk)
    assert refund.status == RefundStatus.PENDING
    fake_razorpay.refund = original
    assert retry_pending_refunds(now=later()) == {"processed": 1}
    assert len(fake_razorpay.refunds) == 1
    captured.refresh_from_db()
    assert (captured.status, captured.refunded_amount) == (S.REFUNDED, TOTAL)


@pytest.mark.django_db
def test_retry_delay_backs_off_and_is_capped():
    assert [retry_delay(attempts=n).total_seconds() for n in (0, 1, 2, 3, 4)] == [30, 30, 60, 120, 240]
    assert retry_delay(attempts=30) == timedelta(hours=1)


@pytest.mark.django_db
def test_a_gateway_failed_refund_gives_its_part_back(captured, fake_razorpay, staff_user):
    hold_refunds_pending(fake_razorpay)
    refund = refund_payment(payment_id=captured.pk, amount=None, reason="x", actor_id=staff_user.pk)
    assert refund.status == RefundStatus.PENDING
    with pytest.raises(RefundExceedsCaptured):  # the pending refund holds the whole amount
        request_refund(payment_id=captured.pk, amount=1, reason="y", actor_id=staff_user.pk)
    settle_refund(fake_razorpay, refund.reference, GatewayRefundStatus.FAILED)
    assert retry_pending_refunds(now=later()) == {"failed": 1}
    captured.refresh_from_db()
    assert (captured.status, captured.refunded_amount) == (S.CAPTURED, 0)
    again = refund_payment(payment_id=captured.pk, amount=None, reason="second try", actor_id=staff_user.pk)
    settle_refund(fake_razorpay, again.reference)
    assert retry_pending_refunds(now=later()) == {"processed": 1}
    captured.refresh_from_db()
    assert (captured.status, captured.refunded_amount) == (S.REFUNDED, TOTAL)


@pytest.mark.django_db(transaction=True)
def test_the_periodic_refund_task_runs_on_the_queue(captured, fake_razorpay, staff_user):
    from payfirst.payments.tasks import retry_pending_refunds_task

    fake_razorpay.fail_next("refund", GatewayUnavailable("down"))
    refund = refund_payment(payment_id=captured.pk, amount=1000, reason="x", actor_id=staff_user.pk)
    Refund.objects.filter(pk=refund.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    run_queued_tasks()  # the capture's confirmation email
    retry_pending_refunds_task.enqueue()
    assert run_queued_tasks() == 2  # the retry, then the refund-processed email it queued
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PROCESSED and len(fake_razorpay.refunds) == 1


# ---- refund webhooks -------------------------------------------------------------------------------------------


def deliver(fake, *, event_id: str, name: str, refund: Refund, status: str) -> str:
    headers, body = fake.webhook(
        event_id=event_id,
        name=name,
        kind=EventKind.REFUND,
        extra={"refund_reference": refund.reference, "refund_id": refund.gateway_refund_id or None, "status": status},
    )
    return receive_and_process(headers=headers, body=body)


@pytest.mark.django_db
def test_refund_webhooks_duplicated_and_reordered_apply_once(captured, fake_razorpay, staff_user):
    hold_refunds_pending(fake_razorpay)
    refund = refund_payment(payment_id=captured.pk, amount=200000, reason="x", actor_id=staff_user.pk)
    assert refund.status == RefundStatus.PENDING and refund.gateway_refund_id
    # "processed" arrives before the gateway says so: a hint only, the status API still says pending.
    assert deliver(fake_razorpay, event_id="ev-3", name="refund.processed", refund=refund, status="processed") == (
        WebhookOutcome.PROCESSED
    )
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PENDING
    settle_refund(fake_razorpay, refund.reference)
    # The older "created" event arrives late: it makes us ask, and the answer is processed.
    assert deliver(fake_razorpay, event_id="ev-1", name="refund.created", refund=refund, status="pending") == (
        WebhookOutcome.PROCESSED
    )
    for _ in range(3):  # the same event again and again
        assert deliver(fake_razorpay, event_id="ev-1", name="refund.created", refund=refund, status="pending") == (
            WebhookOutcome.DUPLICATE
        )
    # A late, contradicting event cannot move a processed refund.
    settle_refund(fake_razorpay, refund.reference, GatewayRefundStatus.FAILED)
    assert deliver(fake_razorpay, event_id="ev-9", name="refund.failed", refund=refund, status="failed") == (
        WebhookOutcome.PROCESSED
    )
    refund.refresh_from_db()
    captured.refresh_from_db()
    assert refund.status == RefundStatus.PROCESSED
    assert (captured.status, captured.refunded_amount) == (S.PARTIALLY_REFUNDED, 200000)
    assert PaymentEvent.objects.filter(payment=captured, to_status=S.PARTIALLY_REFUNDED).count() == 1
    assert len(fake_razorpay.refunds) == 1
    assert set(WebhookEvent.objects.filter(is_claimed=True).values_list("payment_id", flat=True)) == {captured.pk}


@pytest.mark.django_db
def test_refund_webhook_for_an_unknown_refund_is_ignored(fake_razorpay):
    headers, body = fake_razorpay.webhook(
        event_id="ev-x", name="refund.processed", kind=EventKind.REFUND, extra={"refund_reference": "PFRNOPE"}
    )
    assert receive_and_process(headers=headers, body=body) == WebhookOutcome.IGNORED


@pytest.mark.django_db
def test_a_refund_webhook_that_failed_is_redriven(captured, fake_razorpay, staff_user):
    hold_refunds_pending(fake_razorpay)
    refund = refund_payment(payment_id=captured.pk, amount=None, reason="x", actor_id=staff_user.pk)
    settle_refund(fake_razorpay, refund.reference)
    fake_razorpay.fail_next("fetch_refund", GatewayUnavailable("down"))
    outcome = deliver(fake_razorpay, event_id="ev-1", name="refund.processed", refund=refund, status="processed")
    assert outcome == WebhookOutcome.ERROR
    record = WebhookEvent.objects.get(outcome=WebhookOutcome.ERROR)
    assert record.payment_id == captured.pk
    assert redrive_webhook(webhook_event_id=record.pk) == WebhookOutcome.PROCESSED
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PROCESSED


# ---- FLAGGED and automatic refunds -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_flagged_underpayment_refunds_what_was_paid(user, address, mixed_cart, fake_razorpay, staff_user):
    payment = open_payment(user=user, address=address)
    fake_razorpay.settle(payment.gateway_order_id, GatewayStatus.CAPTURED, amount=100)
    services.sync_payment(payment=payment, source=EventSource.WEBHOOK)
    payment.refresh_from_db()
    assert payment.status == S.FLAGGED
    with pytest.raises(RefundExceedsCaptured):
        request_refund(payment_id=payment.pk, amount=101, reason="x", actor_id=staff_user.pk)
    refund = refund_payment(payment_id=payment.pk, amount=None, reason="Underpaid", actor_id=staff_user.pk)
    assert (refund.amount, refund.status) == (100, RefundStatus.PROCESSED)
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == (S.REFUNDED, 100)


@pytest.mark.django_db
def test_a_flagged_payment_in_another_currency_is_not_refunded_here(user, address, mixed_cart, fake_razorpay):
    payment = open_payment(user=user, address=address)
    fake_razorpay.settle(payment.gateway_order_id, GatewayStatus.CAPTURED, currency="USD")
    services.sync_payment(payment=payment, source=EventSource.WEBHOOK)
    with pytest.raises(InvalidState):
        request_refund(payment_id=payment.pk, amount=None, reason="x", actor_id=None)


@pytest.mark.django_db(transaction=True)
def test_automatic_refund_of_a_late_capture_goes_the_same_way(user, address, fake_razorpay):
    package = factories.make_package()
    slot = factories.make_slot(package=package, capacity=1)
    factories.add_service(factories.active_cart(user), package, slot)
    payment = open_payment(user=user, address=address)
    Payment.objects.filter(pk=payment.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    services.expire_stale_payments()
    Slot.objects.filter(pk=slot.pk).update(taken=1)  # someone else took the only place meanwhile
    fake_razorpay.settle(payment.gateway_order_id)  # then the first customer's money arrives late
    assert services.sync_payment(payment=payment, source=EventSource.WEBHOOK) == services.SyncOutcome.AUTO_REFUND
    assert run_queued_tasks() >= 1
    payment.refresh_from_db()
    refund = Refund.objects.get(payment=payment)
    assert refund.is_automatic and refund.status == RefundStatus.PROCESSED
    assert (payment.status, payment.refunded_amount) == (S.REFUNDED, payment.amount)
    assert len(fake_razorpay.refunds) == 1
    assert_every_capture_is_fulfilled_or_refunded()


# ---- concurrency (PostgreSQL) ----------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_refund_requests_never_exceed_the_captured_amount(captured, fake_razorpay, staff_user):
    for round_ in range(3):
        hold_refunds_pending(fake_razorpay) if round_ == 1 else None
        amount = 150000 + round_ * 10000
        barrier = threading.Barrier(6)
        results: list[object] = []

        def attempt(barrier: threading.Barrier, results: list[object], amount: int) -> None:
            try:
                barrier.wait(timeout=10)
                results.append(
                    refund_payment(payment_id=captured.pk, amount=amount, reason="race", actor_id=staff_user.pk)
                )
            except AppError as error:
                results.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=attempt, args=(barrier, results, amount)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
        refunds = list(Refund.objects.filter(payment=captured).exclude(status=RefundStatus.FAILED))
        assert sum(refund.amount for refund in refunds) <= TOTAL
        assert all(isinstance(r, (Refund, RefundExceedsCaptured)) for r in results)
        # Each round the room left decides how many fit; the rest are refused, never squeezed in.
        Refund.objects.filter(payment=captured).update(status=RefundStatus.FAILED)
        Payment.objects.filter(pk=captured.pk).update(status=S.CAPTURED, refunded_amount=0)
        assert sum(isinstance(r, Refund) for r in results) == TOTAL // amount
