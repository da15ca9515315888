"""Both adapters against the sandbox server over real HTTP: create, pay on the hosted page's endpoint,
fetch the truth, refund, and armed API faults surfacing as GatewayUnavailable."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace

import httpx
import pytest
from django.conf import settings

from payfirst.core.money import Paise
from payfirst.gateways.base import (
    AttemptStatus,
    EventKind,
    GatewayAuthError,
    GatewayRejected,
    GatewayStatus,
    GatewayUnavailable,
    RefundStatus,
    SignatureInvalid,
)
from payfirst.gateways.phonepe.gateway import PhonePeConfig, PhonePeGateway
from payfirst.gateways.razorpay.gateway import RazorpayConfig, RazorpayGateway
from payfirst.gateways.registry import get_gateway
from payfirst.testing.sandbox_server import SandboxServer

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMER = {"name": "Asha Rao", "email": "asha@example.com", "contact": "+919876543210"}


@pytest.fixture
def sandbox(sandbox, settings):
    """The session's sandbox server (see payfirst/testing), with the adapters' timeout short enough for the tests.

    These tests drive the adapters against the sandbox's API and read the webhooks it records; none is for payfirst's
    live server, so every webhook is dropped (still recorded, body and all): a delivery landing there mid-test would
    share SQLite's one connection with the test thread."""
    settings.GATEWAY_TIMEOUT_SECONDS = 5
    for gateway in ("razorpay", "phonepe"):
        sandbox.arm(gateway, "webhook_drop", count=1000)
    return sandbox


def _razorpay() -> RazorpayGateway:
    """The registry's Razorpay adapter (pointed at the sandbox), as the class whose extras these tests use."""
    gateway = get_gateway("razorpay")
    assert isinstance(gateway, RazorpayGateway)
    return gateway


def _phonepe() -> PhonePeGateway:
    gateway = get_gateway("phonepe")
    assert isinstance(gateway, PhonePeGateway)
    return gateway


def _post(url: str, body: dict) -> httpx.Response:
    return httpx.post(url, json=body, timeout=10)


def _arm(sandbox: SandboxServer, *, gateway: str, fault: str, count: int = 1) -> None:
    sandbox.arm(gateway, fault, count=count)


def _razorpay_order(gateway: RazorpayGateway, reference: str, amount: int = 49900):
    return gateway.create_order(
        reference=reference,
        amount=Paise(amount),
        redirect_url=None,
        customer=CUSTOMER,
        description="Brass Diya — Large x 1",
    )


def _razorpay_pay(base: str, order_id: str, outcome: str) -> httpx.Response:
    return _post(f"{base}/sandbox/razorpay/checkout/{order_id}/pay", {"outcome": outcome})


# Razorpay ----------------------------------------------------------------------------------------------------------


def test_razorpay_create_pay_and_fetch_captured(sandbox):
    gateway = _razorpay()
    order = _razorpay_order(gateway, "PAY-IT-RZP-1")
    assert order.gateway_order_id.startswith("order_") and order.amount == Paise(49900)
    assert (
        order.checkout["sandbox_checkout_url"] == f"{sandbox.url}/sandbox/razorpay/checkout/{order.gateway_order_id}/"
    )
    assert httpx.get(order.checkout["sandbox_checkout_url"], timeout=10).status_code == 200

    assert gateway.fetch_payment(gateway_order_id=order.gateway_order_id).status is GatewayStatus.PENDING

    paid = _razorpay_pay(sandbox.url, order.gateway_order_id, "success")
    assert paid.status_code == 200, paid.text
    fields = paid.json()
    gateway.verify_client_signature(fields=fields)  # the sandbox signs exactly as Checkout does

    payment = gateway.fetch_payment(gateway_order_id=order.gateway_order_id)
    assert payment.status is GatewayStatus.CAPTURED
    assert payment.amount == Paise(49900) and payment.currency == "INR"
    assert payment.gateway_payment_id == fields["razorpay_payment_id"]


def test_razorpay_same_reference_never_opens_two_orders(sandbox):
    gateway = _razorpay()
    first = _razorpay_order(gateway, "PAY-IT-RZP-11")
    again = _razorpay_order(gateway, "PAY-IT-RZP-11")
    assert again.gateway_order_id == first.gateway_order_id
    assert len(gateway.api.orders_with_receipt("PAY-IT-RZP-11")["items"]) == 1


def test_razorpay_hosted_page_shows_what_is_bought_whom_for_and_the_amount_in_rupees(sandbox):
    order = _razorpay_order(_razorpay(), "PAY-IT-RZP-12", amount=12345600)
    page = httpx.get(order.checkout["sandbox_checkout_url"], timeout=30)
    assert page.status_code == 200
    for shown in ("₹1,23,456.00", "Brass Diya — Large x 1", "Asha Rao", "asha@example.com", "+919876543210"):
        assert shown in page.text, shown


def test_razorpay_failure_then_success_on_the_same_order(sandbox):
    gateway = _razorpay()
    order = _razorpay_order(gateway, "PAY-IT-RZP-2")
    assert _razorpay_pay(sandbox.url, order.gateway_order_id, "failure").status_code >= 400
    failed = gateway.fetch_payment(gateway_order_id=order.gateway_order_id)
    # The failed attempt is listed, and the order stays payable: Razorpay lets the customer try again on it.
    assert failed.status is GatewayStatus.PENDING and failed.error_code == "BAD_REQUEST_ERROR"
    assert [attempt.status for attempt in failed.attempts] == [AttemptStatus.FAILED]

    assert _razorpay_pay(sandbox.url, order.gateway_order_id, "success").status_code == 200
    assert gateway.fetch_payment(gateway_order_id=order.gateway_order_id).status is GatewayStatus.CAPTURED


def test_razorpay_authorized_payment_is_only_reported_by_fetch_and_captured_by_capture(sandbox):
    gateway = RazorpayGateway.from_settings()
    # An order without auto-capture leaves the paid attempt authorized, as Razorpay does for such orders.
    entity = gateway.api.create_order(
        {"amount": 25000, "currency": "INR", "receipt": "PAY-IT-RZP-3", "payment_capture": 0}
    )
    assert _razorpay_pay(sandbox.url, entity["id"], "success").status_code == 200
    held = gateway.api.order_payments(entity["id"])["items"][0]
    assert held["status"] == "authorized"

    payment = gateway.fetch_payment(gateway_order_id=entity["id"])
    assert payment.status is GatewayStatus.AUTHORIZED and payment.amount == Paise(25000)
    assert gateway.api.fetch_payment(held["id"])["status"] == "authorized"  # asking moved no money

    captured = gateway.capture(gateway_order_id=entity["id"], gateway_payment_id=held["id"], amount=Paise(25000))
    assert captured.status is AttemptStatus.CAPTURED and gateway.api.fetch_payment(held["id"])["captured"] is True
    again = gateway.capture(gateway_order_id=entity["id"], gateway_payment_id=held["id"], amount=Paise(25000))
    assert again.status is AttemptStatus.CAPTURED  # a second capture answers it as captured
    assert gateway.fetch_payment(gateway_order_id=entity["id"]).status is GatewayStatus.CAPTURED


def test_razorpay_refund_is_idempotent_per_reference_and_fetchable(sandbox):
    gateway = _razorpay()
    order = _razorpay_order(gateway, "PAY-IT-RZP-4")
    pay_id = _razorpay_pay(sandbox.url, order.gateway_order_id, "success").json()["razorpay_payment_id"]

    refund = gateway.refund(
        gateway_order_id=order.gateway_order_id, gateway_payment_id=pay_id, amount=Paise(10000), reference="RF-IT-RZP-4"
    )
    assert refund.gateway_refund_id.startswith("rfnd_") and refund.amount == Paise(10000)
    assert refund.reference == "RF-IT-RZP-4" and refund.status in (RefundStatus.PENDING, RefundStatus.PROCESSED)

    again = gateway.refund(
        gateway_order_id=order.gateway_order_id, gateway_payment_id=pay_id, amount=Paise(10000), reference="RF-IT-RZP-4"
    )
    assert again.gateway_refund_id == refund.gateway_refund_id
    assert len(gateway.api.payment_refunds(pay_id, count=100, skip=0)["items"]) == 1

    fetched = gateway.fetch_refund(
        gateway_payment_id=pay_id, gateway_refund_id=refund.gateway_refund_id, reference="RF-IT-RZP-4"
    )
    assert fetched.gateway_refund_id == refund.gateway_refund_id and fetched.amount == Paise(10000)
    by_receipt = gateway.fetch_refund(gateway_payment_id=pay_id, gateway_refund_id="", reference="RF-IT-RZP-4")
    assert by_receipt.gateway_refund_id == refund.gateway_refund_id


def test_razorpay_refund_beyond_the_captured_amount_is_rejected(sandbox):
    gateway = _razorpay()
    order = _razorpay_order(gateway, "PAY-IT-RZP-5")
    pay_id = _razorpay_pay(sandbox.url, order.gateway_order_id, "success").json()["razorpay_payment_id"]
    with pytest.raises(GatewayRejected):
        gateway.refund(
            gateway_order_id=order.gateway_order_id,
            gateway_payment_id=pay_id,
            amount=Paise(50000),
            reference="RF-IT-RZP-5",
        )


def test_razorpay_unknown_order_is_rejected(sandbox):
    with pytest.raises(GatewayRejected):
        _razorpay().fetch_payment(gateway_order_id="order_DoesNotExist01")


def test_razorpay_armed_api_error_is_unavailable_once(sandbox):
    _arm(sandbox, gateway="razorpay", fault="api_error")
    gateway = _razorpay()
    with pytest.raises(GatewayUnavailable):
        _razorpay_order(gateway, "PAY-IT-RZP-6")
    assert _razorpay_order(gateway, "PAY-IT-RZP-6").gateway_order_id.startswith("order_")


def test_razorpay_armed_api_timeout_is_unavailable(sandbox, settings):
    settings.GATEWAY_TIMEOUT_SECONDS = 0.5
    _arm(sandbox, gateway="razorpay", fault="api_timeout")
    with pytest.raises(GatewayUnavailable, match="timeout"):
        _razorpay_order(_razorpay(), "PAY-IT-RZP-7")


def test_razorpay_wrong_key_is_an_auth_error(sandbox):
    # Only the adapter's copy changes: the sandbox keeps checking against the configured key.
    gateway = RazorpayGateway(replace(RazorpayConfig.from_settings(), key_secret="not-the-sandbox-secret"))
    with pytest.raises(GatewayAuthError) as caught:
        _razorpay_order(gateway, "PAY-IT-RZP-8")
    assert "not-the-sandbox-secret" not in str(caught.value)


# PhonePe -----------------------------------------------------------------------------------------------------------


def _phonepe_order(gateway: PhonePeGateway, base: str, reference: str, amount: int = 49900):
    return gateway.create_order(
        reference=reference,
        amount=Paise(amount),
        redirect_url=f"{base}/shop/return",
        customer=CUSTOMER,
        description="Satyanarayan Puja — Standard",
    )


def _phonepe_complete(base: str, reference: str, outcome: str) -> httpx.Response:
    return _post(f"{base}/sandbox/phonepe/pay/{reference}/complete", {"outcome": outcome})


def test_phonepe_create_pay_and_fetch_captured(sandbox):
    gateway = _phonepe()
    order = _phonepe_order(gateway, sandbox.url, "PAYITPP1")
    assert order.gateway_order_id == "PAYITPP1" and order.amount == Paise(49900)
    assert httpx.get(order.checkout["redirect_url"], timeout=10).status_code == 200

    assert gateway.fetch_payment(gateway_order_id="PAYITPP1").status is GatewayStatus.PENDING
    completed = _phonepe_complete(sandbox.url, "PAYITPP1", "success")
    assert completed.status_code == 200, completed.text

    payment = gateway.fetch_payment(gateway_order_id="PAYITPP1")
    assert payment.status is GatewayStatus.CAPTURED and payment.amount == Paise(49900)
    assert payment.gateway_payment_id


def test_phonepe_failure_path(sandbox):
    gateway = _phonepe()
    _phonepe_order(gateway, sandbox.url, "PAYITPP2")
    assert _phonepe_complete(sandbox.url, "PAYITPP2", "failure").status_code == 200
    assert gateway.fetch_payment(gateway_order_id="PAYITPP2").status is GatewayStatus.FAILED


def test_phonepe_same_reference_never_opens_two_orders(sandbox):
    gateway = _phonepe()
    _phonepe_order(gateway, sandbox.url, "PAYITPP3")
    with pytest.raises(GatewayRejected):
        _phonepe_order(gateway, sandbox.url, "PAYITPP3")


def test_phonepe_refund_is_idempotent_per_reference_and_fetchable(sandbox):
    gateway = _phonepe()
    _phonepe_order(gateway, sandbox.url, "PAYITPP4")
    _phonepe_complete(sandbox.url, "PAYITPP4", "success")
    pay_id = gateway.fetch_payment(gateway_order_id="PAYITPP4").gateway_payment_id or ""

    refund = gateway.refund(
        gateway_order_id="PAYITPP4", gateway_payment_id=pay_id, amount=Paise(10000), reference="RFITPP4"
    )
    assert refund.gateway_refund_id == "RFITPP4" and refund.amount == Paise(10000)
    assert refund.status in (RefundStatus.PENDING, RefundStatus.PROCESSED)
    again = gateway.refund(
        gateway_order_id="PAYITPP4", gateway_payment_id=pay_id, amount=Paise(10000), reference="RFITPP4"
    )
    assert again.gateway_refund_id == "RFITPP4" and again.amount == Paise(10000)

    fetched = gateway.fetch_refund(gateway_payment_id=pay_id, gateway_refund_id="RFITPP4", reference="RFITPP4")
    assert fetched.amount == Paise(10000) and fetched.status in (RefundStatus.PENDING, RefundStatus.PROCESSED)


def test_phonepe_unknown_order_is_rejected(sandbox):
    with pytest.raises(GatewayRejected):
        _phonepe().fetch_payment(gateway_order_id="NOSUCHORDER")


def test_phonepe_armed_api_error_is_unavailable_once(sandbox):
    gateway = _phonepe()
    _phonepe_order(gateway, sandbox.url, "PAYITPP5")  # a token is cached now, so the fault hits the status call
    _arm(sandbox, gateway="phonepe", fault="api_error")
    with pytest.raises(GatewayUnavailable):
        gateway.fetch_payment(gateway_order_id="PAYITPP5")
    assert gateway.fetch_payment(gateway_order_id="PAYITPP5").status is GatewayStatus.PENDING


def test_phonepe_armed_api_timeout_is_unavailable(sandbox, settings):
    gateway = _phonepe()
    _phonepe_order(gateway, sandbox.url, "PAYITPP6")
    settings.GATEWAY_TIMEOUT_SECONDS = 0.5
    _arm(sandbox, gateway="phonepe", fault="api_timeout")
    with pytest.raises(GatewayUnavailable, match="timeout"):
        _phonepe().fetch_payment(gateway_order_id="PAYITPP6")


def test_phonepe_wrong_client_secret_is_an_auth_error(sandbox):
    gateway = PhonePeGateway(replace(PhonePeConfig.from_settings(), client_secret="not-the-sandbox-secret"))
    with pytest.raises(GatewayAuthError) as caught:
        gateway.fetch_payment(gateway_order_id="PAYITPP7")
    assert "not-the-sandbox-secret" not in str(caught.value)


# Webhooks the sandbox signs, read by the adapters ------------------------------------------------------------------


def _delivery_ids(sandbox: SandboxServer, gateway: str) -> set[int]:
    return {delivery["id"] for delivery in sandbox.deliveries(gateway=gateway)}


def _deliveries(sandbox: SandboxServer, gateway: str, earlier: set[int]) -> list[tuple[dict[str, str], bytes]]:
    """The webhooks the sandbox sent for `gateway` since `earlier`, in the order it created them, as (headers, body):
    the exact bytes it sent, with the headers signed here from the configured secrets (it never stores a signature)."""
    sandbox.wait_idle()
    sent = []
    for delivery in sandbox.deliveries(gateway=gateway):
        if delivery["id"] in earlier:
            continue
        body = delivery["body"].encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if gateway == "razorpay":
            headers["X-Razorpay-Event-Id"] = delivery["event_id"]
            headers["X-Razorpay-Signature"] = hmac.new(
                settings.RAZORPAY_WEBHOOK_SECRET.encode(), body, hashlib.sha256
            ).hexdigest()
        else:
            credentials = f"{settings.PHONEPE_WEBHOOK_USERNAME}:{settings.PHONEPE_WEBHOOK_PASSWORD}"
            headers["Authorization"] = hashlib.sha256(credentials.encode()).hexdigest()
        sent.append((headers, body))
    return sent


def test_razorpay_adapter_reads_every_webhook_the_sandbox_sends(sandbox):
    earlier = _delivery_ids(sandbox, "razorpay")
    gateway = _razorpay()
    failed_order = _razorpay_order(gateway, "PAY-IT-RZP-9")
    _razorpay_pay(sandbox.url, failed_order.gateway_order_id, "failure")
    order = _razorpay_order(gateway, "PAY-IT-RZP-10")
    pay_id = _razorpay_pay(sandbox.url, order.gateway_order_id, "success").json()["razorpay_payment_id"]
    refund = gateway.refund(
        gateway_order_id=order.gateway_order_id, gateway_payment_id=pay_id, amount=Paise(5000), reference="RF-IT-RZP-10"
    )
    # The sandbox settles the refund by itself (at once, in the tests' sandbox) and sends refund.processed.

    events = [
        gateway.parse_webhook(headers=headers, body=body) for headers, body in _deliveries(sandbox, "razorpay", earlier)
    ]
    assert [e.name for e in events] == [
        "payment.failed",
        "payment.authorized",
        "payment.captured",
        "order.paid",
        "refund.created",
        "refund.processed",
    ]
    assert len({e.event_id for e in events}) == len(events)
    failed, *paid, created, processed = events
    assert failed.kind is EventKind.PAYMENT and failed.gateway_order_id == failed_order.gateway_order_id
    for event in paid:
        assert event.kind is EventKind.PAYMENT and event.gateway_order_id == order.gateway_order_id
        assert event.gateway_payment_id == pay_id and event.amount == Paise(49900) and event.currency == "INR"
    for event in (created, processed):
        assert event.kind is EventKind.REFUND and event.gateway_refund_id == refund.gateway_refund_id
        assert event.refund_reference == "RF-IT-RZP-10" and event.amount == Paise(5000)
        assert event.gateway_payment_id == pay_id
    assert processed.status == "processed"

    headers, body = _deliveries(sandbox, "razorpay", earlier)[0]
    with pytest.raises(SignatureInvalid):
        gateway.parse_webhook(headers=headers, body=body.replace(b'"failed"', b'"faileD"', 1))


def test_phonepe_adapter_reads_every_callback_the_sandbox_sends(sandbox):
    earlier = _delivery_ids(sandbox, "phonepe")
    gateway = _phonepe()
    _phonepe_order(gateway, sandbox.url, "PAYITPP8")
    _phonepe_complete(sandbox.url, "PAYITPP8", "failure")
    _phonepe_order(gateway, sandbox.url, "PAYITPP9")
    _phonepe_complete(sandbox.url, "PAYITPP9", "success")
    gateway.refund(gateway_order_id="PAYITPP9", gateway_payment_id="", amount=Paise(5000), reference="RFITPP9")
    # The sandbox moves the refund PENDING -> CONFIRMED -> COMPLETED by itself, with a callback at each step.

    events = [
        gateway.parse_webhook(headers=headers, body=body) for headers, body in _deliveries(sandbox, "phonepe", earlier)
    ]
    assert [(e.name, e.status) for e in events] == [
        ("checkout.order.failed", "FAILED"),
        ("checkout.order.completed", "COMPLETED"),
        ("pg.refund.accepted", "CONFIRMED"),
        ("pg.refund.completed", "COMPLETED"),
    ]
    assert len({e.event_id for e in events}) == len(events)
    failed, completed, accepted, done = events
    assert (failed.kind, failed.gateway_order_id) == (EventKind.PAYMENT, "PAYITPP8")
    assert (completed.kind, completed.gateway_order_id, completed.amount) == (
        EventKind.PAYMENT,
        "PAYITPP9",
        Paise(49900),
    )
    assert completed.gateway_payment_id == gateway.fetch_payment(gateway_order_id="PAYITPP9").gateway_payment_id
    for event in (accepted, done):
        assert event.kind is EventKind.REFUND and event.gateway_refund_id == "RFITPP9"
        assert event.gateway_order_id == "PAYITPP9" and event.amount == Paise(5000)
    assert (
        gateway.fetch_refund(gateway_payment_id="", gateway_refund_id="RFITPP9", reference="RFITPP9").status
        is RefundStatus.PROCESSED
    )
