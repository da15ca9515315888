"""RazorpayGateway over real HTTP against a scripted local server replaying recorded Razorpay payloads."""

from __future__ import annotations

import base64
import importlib.metadata
import threading

import pytest

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
from payfirst.gateways.razorpay import mapping, signature
from payfirst.gateways.razorpay.gateway import RazorpayGateway
from payfirst.gateways.tests.conftest import fixture_bytes, fixture_json

ORDER_ID = "order_EKwxwAgItmmXdp"
CUSTOMER = {"name": "Asha Rao", "email": "asha@example.com", "contact": "+919876543210"}


NO_ORDERS = {"entity": "collection", "count": 0, "items": []}


@pytest.fixture
def gateway(settings, stub_server) -> RazorpayGateway:
    settings.RAZORPAY_API_BASE = f"{stub_server.url}/rzp"
    settings.RAZORPAY_KEY_ID = "rzp_test_unit"
    settings.RAZORPAY_KEY_SECRET = "unit_key_secret"
    settings.RAZORPAY_WEBHOOK_SECRET = "unit_webhook_secret"
    settings.PAYFIRST_PUBLIC_BASE_URL = "http://shop.test"
    settings.PAYFIRST_GATEWAYS = "sandbox"
    settings.PAYFIRST_MERCHANT_NAME = "Diya & Co"
    stub_server.add("GET", "/rzp/v1/orders", json_body=NO_ORDERS)  # no earlier order carries the receipt
    return RazorpayGateway.from_settings()


def _create(gateway: RazorpayGateway, amount: int = 50000):
    return gateway.create_order(
        reference="PAY-7Q3K9X2M", amount=Paise(amount), redirect_url=None, customer=CUSTOMER, description="2 items"
    )


def test_create_order_sends_paise_receipt_and_basic_auth(gateway, stub_server):
    stub_server.add("POST", "/rzp/v1/orders", json_body=fixture_json("razorpay/order_created.json"))
    order = _create(gateway)
    [call] = stub_server.calls("POST", "/rzp/v1/orders")
    assert call.json() == {
        "amount": 50000,
        "currency": "INR",
        "receipt": "PAY-7Q3K9X2M",
        "notes": {
            "reference": "PAY-7Q3K9X2M",
            "description": "2 items",
            "customer_name": CUSTOMER["name"],
            "customer_email": CUSTOMER["email"],
            "customer_contact": CUSTOMER["contact"],
        },
    }
    assert call.headers["Authorization"] == "Basic " + base64.b64encode(b"rzp_test_unit:unit_key_secret").decode()
    assert order.gateway_order_id == ORDER_ID and order.amount == Paise(50000) and order.currency == "INR"


def test_create_order_looks_for_an_order_with_our_receipt_first(gateway, stub_server):
    stub_server.add("POST", "/rzp/v1/orders", json_body=fixture_json("razorpay/order_created.json"))
    _create(gateway)
    [lookup] = stub_server.calls("GET", "/rzp/v1/orders")
    assert lookup.query["receipt"] == ["PAY-7Q3K9X2M"]


def test_a_first_opening_creates_the_order_without_looking_for_an_earlier_one(gateway, stub_server):
    stub_server.add("POST", "/rzp/v1/orders", json_body=fixture_json("razorpay/order_created.json"))
    order = gateway.create_order(
        reference="PAY-7Q3K9X2M",
        amount=Paise(50000),
        redirect_url=None,
        customer=CUSTOMER,
        description="2 items",
        first_opening=True,
    )
    assert stub_server.calls("GET", "/rzp/v1/orders") == []
    assert len(stub_server.calls("POST", "/rzp/v1/orders")) == 1 and order.gateway_order_id == ORDER_ID


def test_create_order_retry_reuses_the_order_with_our_receipt(gateway, stub_server):
    other_amount = {**fixture_json("razorpay/order_created.json"), "id": "order_OtherAmount001", "amount": 100}
    ours = {**fixture_json("razorpay/order_created.json"), "status": "attempted"}
    stub_server.routes[("GET", "/rzp/v1/orders")] = []
    stub_server.add(
        "GET", "/rzp/v1/orders", json_body={"entity": "collection", "count": 2, "items": [other_amount, ours]}
    )
    order = _create(gateway)
    assert order.gateway_order_id == ORDER_ID and order.checkout["order_id"] == ORDER_ID
    assert not stub_server.calls("POST", "/rzp/v1/orders")


def test_create_order_ignores_an_order_with_our_receipt_for_another_amount(gateway, stub_server):
    other_amount = {**fixture_json("razorpay/order_created.json"), "id": "order_OtherAmount001", "amount": 100}
    stub_server.routes[("GET", "/rzp/v1/orders")] = []
    stub_server.add("GET", "/rzp/v1/orders", json_body={"entity": "collection", "count": 1, "items": [other_amount]})
    stub_server.add("POST", "/rzp/v1/orders", json_body=fixture_json("razorpay/order_created.json"))
    assert _create(gateway).gateway_order_id == ORDER_ID
    assert len(stub_server.calls("POST", "/rzp/v1/orders")) == 1


def test_create_order_checkout_block(gateway, stub_server):
    """The options object Razorpay Checkout.js takes: `key` is the one it reads (`key_id` stays for old clients),
    `callback_url` for its redirect mode."""
    stub_server.add("POST", "/rzp/v1/orders", json_body=fixture_json("razorpay/order_created.json"))
    order = gateway.create_order(
        reference="PAY-7Q3K9X2M",
        amount=Paise(50000),
        redirect_url="https://shop.test/api/payments/callback/razorpay/",
        customer=CUSTOMER,
        description="2 items",
    )
    assert dict(order.checkout) == {
        "key": "rzp_test_unit",
        "key_id": "rzp_test_unit",
        "callback_url": "https://shop.test/api/payments/callback/razorpay/",
        "order_id": ORDER_ID,
        "amount": 50000,
        "currency": "INR",
        "name": "Diya & Co",
        "description": "2 items",
        "prefill": CUSTOMER,
        # The hosted page sits beside the (sandbox) API the adapter is pointed at.
        "sandbox_checkout_url": f"{stub_server.url}/rzp/checkout/{ORDER_ID}/",
    }


def test_create_order_in_live_mode_has_no_sandbox_url_and_no_secret(settings, gateway, stub_server):
    settings.PAYFIRST_GATEWAYS = "live"
    stub_server.add("POST", "/rzp/v1/orders", json_body=fixture_json("razorpay/order_created.json"))
    checkout = _create(RazorpayGateway.from_settings()).checkout
    assert "sandbox_checkout_url" not in checkout
    assert "unit_key_secret" not in repr(checkout) and "unit_webhook_secret" not in repr(checkout)


def test_create_order_answer_for_another_amount_is_rejected(gateway, stub_server):
    stub_server.add("POST", "/rzp/v1/orders", json_body=fixture_json("razorpay/order_created.json"))
    with pytest.raises(GatewayRejected):
        _create(gateway, amount=49999)


def test_create_order_bad_request_is_rejected_with_razorpays_description(gateway, stub_server):
    stub_server.add("POST", "/rzp/v1/orders", status=400, json_body=fixture_json("razorpay/error_bad_request.json"))
    with pytest.raises(GatewayRejected, match="at least INR 1.00"):
        _create(gateway, amount=50)


def test_fetch_payment_captured(gateway, stub_server):
    items = [fixture_json("razorpay/payment_failed.json"), fixture_json("razorpay/payment_captured.json")]
    stub_server.add(
        "GET", f"/rzp/v1/orders/{ORDER_ID}/payments", json_body={"entity": "collection", "count": 2, "items": items}
    )
    payment = gateway.fetch_payment(gateway_order_id=ORDER_ID)
    assert payment.status is GatewayStatus.CAPTURED and payment.gateway_payment_id == "pay_G8VQzjPLoAvm6D"
    assert payment.amount == Paise(50000) and payment.currency == "INR"
    assert not stub_server.calls("POST", "/rzp/v1/payments/pay_G8VQzjPLoAvm6D/capture")


def _list(stub_server, *items):
    stub_server.add(
        "GET",
        f"/rzp/v1/orders/{ORDER_ID}/payments",
        json_body={"entity": "collection", "count": len(items), "items": list(items)},
    )


def test_fetch_payment_reports_an_authorized_attempt_and_never_captures_it(gateway, stub_server):
    authorized = fixture_json("razorpay/payment_authorized.json")
    _list(stub_server, authorized)
    payment = gateway.fetch_payment(gateway_order_id=ORDER_ID)
    assert payment.status is GatewayStatus.AUTHORIZED and payment.gateway_payment_id == authorized["id"]
    assert [call.method for call in stub_server.requests] == ["GET"]  # asking moves no money


def test_capture_takes_exactly_the_authorized_amount(gateway, stub_server):
    authorized = fixture_json("razorpay/payment_authorized.json")
    stub_server.add(
        "POST",
        f"/rzp/v1/payments/{authorized['id']}/capture",
        json_body={**authorized, "status": "captured", "captured": True},
    )
    attempt = gateway.capture(gateway_order_id=ORDER_ID, gateway_payment_id=authorized["id"], amount=Paise(50000))
    [capture] = stub_server.calls("POST", f"/rzp/v1/payments/{authorized['id']}/capture")
    assert capture.json() == {"amount": 50000, "currency": "INR"}
    assert attempt.status is AttemptStatus.CAPTURED and attempt.gateway_payment_id == authorized["id"]


def test_capture_tolerates_a_capture_race(gateway, stub_server):
    authorized = fixture_json("razorpay/payment_authorized.json")
    stub_server.add(
        "POST",
        f"/rzp/v1/payments/{authorized['id']}/capture",
        status=400,
        json_body={"error": {"code": "BAD_REQUEST_ERROR", "description": "This payment has already been captured"}},
    )
    stub_server.add(
        "GET", f"/rzp/v1/payments/{authorized['id']}", json_body={**authorized, "status": "captured", "captured": True}
    )
    attempt = gateway.capture(gateway_order_id=ORDER_ID, gateway_payment_id=authorized["id"], amount=Paise(50000))
    assert attempt.status is AttemptStatus.CAPTURED


def test_capture_refused_and_still_authorized_raises(gateway, stub_server):
    authorized = fixture_json("razorpay/payment_authorized.json")
    stub_server.add(
        "POST",
        f"/rzp/v1/payments/{authorized['id']}/capture",
        status=400,
        json_body={"error": {"code": "BAD_REQUEST_ERROR", "description": "Capture amount must be equal"}},
    )
    stub_server.add("GET", f"/rzp/v1/payments/{authorized['id']}", json_body=authorized)
    with pytest.raises(GatewayRejected, match="Capture amount"):
        gateway.capture(gateway_order_id=ORDER_ID, gateway_payment_id=authorized["id"], amount=Paise(50000))


def test_refunded_without_capture_is_not_money_and_the_holding_capture_speaks(gateway, stub_server):
    captured = {**fixture_json("razorpay/payment_captured.json"), "created_at": 100}
    # A duplicate authorised later and auto-refunded by Razorpay without capture: never money, never "latest wins".
    returned = {**captured, "id": "pay_returned00001", "status": "refunded", "captured": False, "created_at": 200}
    _list(stub_server, captured, returned)
    payment = gateway.fetch_payment(gateway_order_id=ORDER_ID)
    assert payment.status is GatewayStatus.CAPTURED and payment.gateway_payment_id == captured["id"]
    assert {a.gateway_payment_id: a.status for a in payment.attempts} == {
        captured["id"]: AttemptStatus.CAPTURED,
        returned["id"]: AttemptStatus.RETURNED,
    }


def test_an_order_with_only_a_returned_authorisation_is_not_paid(gateway, stub_server):
    returned = {**fixture_json("razorpay/payment_authorized.json"), "status": "refunded", "captured": False}
    _list(stub_server, returned)
    assert gateway.fetch_payment(gateway_order_id=ORDER_ID).status is GatewayStatus.PENDING


def test_of_two_captures_the_first_holding_money_speaks(gateway, stub_server):
    first = {**fixture_json("razorpay/payment_captured.json"), "created_at": 100}
    second = {**first, "id": "pay_second0000001", "created_at": 200}
    _list(stub_server, second, first)
    payment = gateway.fetch_payment(gateway_order_id=ORDER_ID)
    assert payment.gateway_payment_id == first["id"] and len(payment.attempts) == 2
    # The first refunded in full (its money gone back), the second holds the money: the second speaks.
    refunded = {**first, "status": "refunded", "amount_refunded": 50000}
    assert mapping.best_attempt([refunded, second]) is second


def test_fetch_payment_does_not_capture_an_amount_that_differs_from_the_order(gateway, stub_server):
    authorized = {**fixture_json("razorpay/payment_authorized.json"), "amount": 100}
    _list(stub_server, authorized)
    payment = gateway.fetch_payment(gateway_order_id=ORDER_ID)
    assert payment.status is GatewayStatus.AUTHORIZED and payment.amount == Paise(100)
    assert not stub_server.calls("POST", f"/rzp/v1/payments/{authorized['id']}/capture")


def test_list_refunds_returns_every_refund_of_the_payment(gateway, stub_server):
    refund = fixture_json("razorpay/refund_processed.json")
    stub_server.add(
        "GET",
        f"/rzp/v1/payments/{refund['payment_id']}/refunds",
        json_body={"entity": "collection", "count": 1, "items": [refund]},
    )
    [listed] = gateway.list_refunds(gateway_order_id=ORDER_ID, gateway_payment_id=refund["payment_id"])
    assert listed.gateway_refund_id == refund["id"] and listed.amount == Paise(refund["amount"])


def test_fetch_payment_without_attempts_is_pending_for_the_order_amount(gateway, stub_server):
    stub_server.add(
        "GET", f"/rzp/v1/orders/{ORDER_ID}/payments", json_body={"entity": "collection", "count": 0, "items": []}
    )
    stub_server.add("GET", f"/rzp/v1/orders/{ORDER_ID}", json_body=fixture_json("razorpay/order_created.json"))
    payment = gateway.fetch_payment(gateway_order_id=ORDER_ID)
    assert payment.status is GatewayStatus.PENDING and payment.gateway_payment_id is None
    assert payment.amount == Paise(50000)


def test_fetch_payment_failed(gateway, stub_server):
    stub_server.add(
        "GET",
        f"/rzp/v1/orders/{ORDER_ID}/payments",
        json_body={"entity": "collection", "count": 1, "items": [fixture_json("razorpay/payment_failed.json")]},
    )
    payment = gateway.fetch_payment(gateway_order_id=ORDER_ID)
    # A failed attempt does not end a Razorpay order: it stays payable (a retry, or a late authorisation).
    assert payment.status is GatewayStatus.PENDING and payment.error_description == "Payment failed"
    assert [a.status for a in payment.attempts] == [AttemptStatus.FAILED]


def test_verify_client_signature(gateway):
    sig = signature.checkout_signature(key_secret="unit_key_secret", order_id=ORDER_ID, payment_id="pay_1")
    gateway.verify_client_signature(
        fields={"razorpay_order_id": ORDER_ID, "razorpay_payment_id": "pay_1", "razorpay_signature": sig}
    )
    with pytest.raises(SignatureInvalid):
        gateway.verify_client_signature(
            fields={"razorpay_order_id": ORDER_ID, "razorpay_payment_id": "pay_2", "razorpay_signature": sig}
        )
    with pytest.raises(SignatureInvalid):
        gateway.verify_client_signature(fields={"razorpay_order_id": ORDER_ID, "razorpay_payment_id": "pay_1"})


def _signed(body: bytes) -> dict[str, str]:
    return {
        "X-Razorpay-Signature": signature.webhook_signature(webhook_secret="unit_webhook_secret", body=body),
        "X-Razorpay-Event-Id": "Fz2t1nI2yQUf8a",
        "Content-Type": "application/json",
    }


def test_parse_webhook_verifies_then_parses(gateway):
    body = fixture_bytes("razorpay/webhook_order_paid.json")
    event = gateway.parse_webhook(headers=_signed(body), body=body)
    assert event.event_id == "Fz2t1nI2yQUf8a" and event.kind is EventKind.PAYMENT
    assert event.gateway_order_id == ORDER_ID and event.amount == Paise(50000)


def test_parse_webhook_headers_are_case_insensitive(gateway):
    body = fixture_bytes("razorpay/webhook_refund_processed.json")
    headers = {k.lower(): v for k, v in _signed(body).items()}
    assert gateway.parse_webhook(headers=headers, body=body).kind is EventKind.REFUND


def test_parse_webhook_rejects_tampering_and_missing_header(gateway):
    body = fixture_bytes("razorpay/webhook_payment_captured.json")
    headers = _signed(body)
    with pytest.raises(SignatureInvalid):
        gateway.parse_webhook(headers=headers, body=body.replace(b"captured", b"capturee", 1))
    with pytest.raises(SignatureInvalid):
        gateway.parse_webhook(headers={"X-Razorpay-Event-Id": "e"}, body=body)


def test_parse_webhook_signed_garbage_is_rejected_not_crashed(gateway):
    for body in (b"\xff\xfe not utf-8", b"not json", b"[1, 2]"):
        with pytest.raises(GatewayRejected):
            gateway.parse_webhook(headers=_signed(body), body=body)


def test_parse_webhook_without_event_id_uses_the_body_digest(gateway):
    body = fixture_bytes("razorpay/webhook_payment_captured.json")
    headers = {"X-Razorpay-Signature": _signed(body)["X-Razorpay-Signature"]}
    first = gateway.parse_webhook(headers=headers, body=body)
    assert (
        first.event_id.startswith("sha256:")
        and first.event_id == gateway.parse_webhook(headers=headers, body=body).event_id
    )


def test_refund_sends_amount_receipt_speed_and_idempotency_header(gateway, stub_server):
    pay_id = "pay_G8VQzjPLoAvm6D"
    stub_server.add(
        "GET", f"/rzp/v1/payments/{pay_id}/refunds", json_body={"entity": "collection", "count": 0, "items": []}
    )
    stub_server.add(
        "POST", f"/rzp/v1/payments/{pay_id}/refund", json_body=fixture_json("razorpay/refund_processed.json")
    )
    refund = gateway.refund(
        gateway_order_id=ORDER_ID, gateway_payment_id=pay_id, amount=Paise(20000), reference="RF-3F9A21C7"
    )
    [call] = stub_server.calls("POST", f"/rzp/v1/payments/{pay_id}/refund")
    assert (
        call.json()["amount"] == 20000 and call.json()["receipt"] == "RF-3F9A21C7" and call.json()["speed"] == "normal"
    )
    assert call.headers["X-Refund-Idempotency"] == "RF-3F9A21C7"
    assert refund.gateway_refund_id == "rfnd_JnzyQwYOOBNJJu" and refund.status is RefundStatus.PROCESSED
    assert refund.reference == "RF-3F9A21C7" and refund.amount == Paise(20000)


def test_refund_retry_returns_the_existing_refund_without_refunding_twice(gateway, stub_server):
    pay_id = "pay_G8VQzjPLoAvm6D"
    other = {**fixture_json("razorpay/refund_processed.json"), "id": "rfnd_other", "receipt": "RF-OTHER"}
    stub_server.add(
        "GET",
        f"/rzp/v1/payments/{pay_id}/refunds",
        json_body={
            "entity": "collection",
            "count": 2,
            "items": [other, fixture_json("razorpay/refund_processed.json")],
        },
    )
    refund = gateway.refund(
        gateway_order_id=ORDER_ID, gateway_payment_id=pay_id, amount=Paise(20000), reference="RF-3F9A21C7"
    )
    assert refund.gateway_refund_id == "rfnd_JnzyQwYOOBNJJu"
    assert not stub_server.calls("POST", f"/rzp/v1/payments/{pay_id}/refund")


def test_refund_lookup_pages_through_all_refunds(gateway, stub_server):
    pay_id = "pay_G8VQzjPLoAvm6D"
    filler = [
        {**fixture_json("razorpay/refund_processed.json"), "id": f"rfnd_{i}", "receipt": f"R{i}", "amount": 100}
        for i in range(100)
    ]
    stub_server.add(
        "GET", f"/rzp/v1/payments/{pay_id}/refunds", json_body={"entity": "collection", "count": 100, "items": filler}
    )
    stub_server.add(
        "GET",
        f"/rzp/v1/payments/{pay_id}/refunds",
        json_body={"entity": "collection", "count": 1, "items": [fixture_json("razorpay/refund_processed.json")]},
    )
    refund = gateway.refund(
        gateway_order_id=ORDER_ID, gateway_payment_id=pay_id, amount=Paise(20000), reference="RF-3F9A21C7"
    )
    assert refund.gateway_refund_id == "rfnd_JnzyQwYOOBNJJu"
    assert [c.query["skip"] for c in stub_server.calls("GET", f"/rzp/v1/payments/{pay_id}/refunds")] == [["0"], ["100"]]


def test_refund_existing_with_another_amount_is_rejected(gateway, stub_server):
    pay_id = "pay_G8VQzjPLoAvm6D"
    stub_server.add(
        "GET",
        f"/rzp/v1/payments/{pay_id}/refunds",
        json_body={"entity": "collection", "count": 1, "items": [fixture_json("razorpay/refund_processed.json")]},
    )
    with pytest.raises(GatewayRejected):
        gateway.refund(
            gateway_order_id=ORDER_ID, gateway_payment_id=pay_id, amount=Paise(30000), reference="RF-3F9A21C7"
        )


def test_fetch_refund_by_id_and_by_receipt(gateway, stub_server):
    pay_id = "pay_G8VQzjPLoAvm6D"
    stub_server.add(
        "GET",
        "/rzp/v1/refunds/rfnd_JnzyQwYOOBNJJu",
        json_body={**fixture_json("razorpay/refund_processed.json"), "status": "pending"},
    )
    assert (
        gateway.fetch_refund(
            gateway_payment_id=pay_id, gateway_refund_id="rfnd_JnzyQwYOOBNJJu", reference="RF-3F9A21C7"
        ).status
        is RefundStatus.PENDING
    )
    stub_server.add(
        "GET", f"/rzp/v1/payments/{pay_id}/refunds", json_body={"entity": "collection", "count": 0, "items": []}
    )
    with pytest.raises(GatewayRejected):
        gateway.fetch_refund(gateway_payment_id=pay_id, gateway_refund_id="", reference="RF-3F9A21C7")


@pytest.mark.parametrize(
    "status, body, content_type, error",
    [
        (
            500,
            b'{"error": {"code": "SERVER_ERROR", "description": "We are facing some trouble"}}',
            "application/json",
            GatewayUnavailable,
        ),
        (502, b"<html>Bad Gateway</html>", "text/html", GatewayUnavailable),
        (503, b"", "text/plain", GatewayUnavailable),
        (
            429,
            b'{"error": {"code": "BAD_REQUEST_ERROR", "description": "Too many requests"}}',
            "application/json",
            GatewayUnavailable,
        ),
        (
            401,
            b'{"error": {"code": "BAD_REQUEST_ERROR", "description": "Authentication failed"}}',
            "application/json",
            GatewayAuthError,
        ),
        (401, b"Unauthorized", "text/plain", GatewayAuthError),
        (
            403,
            b'{"error": {"code": "BAD_REQUEST_ERROR", "description": "Access forbidden"}}',
            "application/json",
            GatewayAuthError,
        ),
        (
            400,
            b'{"error": {"code": "BAD_REQUEST_ERROR", "description": "The id provided does not exist"}}',
            "application/json",
            GatewayRejected,
        ),
        (404, b"<html>Not Found</html>", "text/html", GatewayRejected),
        (
            400,
            b'{"error": {"code": "GATEWAY_ERROR", "description": "Bank down"}}',
            "application/json",
            GatewayUnavailable,
        ),
        (200, b"<html>captive portal</html>", "text/html", GatewayUnavailable),
        (200, b"[]", "application/json", GatewayRejected),
    ],
)
def test_http_errors_map_to_the_gateway_error_tree(gateway, stub_server, status, body, content_type, error):
    stub_server.add("GET", f"/rzp/v1/orders/{ORDER_ID}/payments", status=status, raw=body, content_type=content_type)
    with pytest.raises(error) as caught:
        gateway.fetch_payment(gateway_order_id=ORDER_ID)
    assert "unit_key_secret" not in str(caught.value)


def test_connection_refused_is_unavailable(settings, stub_server):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.RAZORPAY_API_BASE = f"http://127.0.0.1:{port}"
    with pytest.raises(GatewayUnavailable):
        RazorpayGateway.from_settings().fetch_payment(gateway_order_id=ORDER_ID)


def test_the_adapter_is_kept_per_thread_while_the_settings_stay_the_same(gateway, settings):
    assert RazorpayGateway.from_settings() is gateway
    elsewhere: list[RazorpayGateway] = []
    thread = threading.Thread(target=lambda: elsewhere.append(RazorpayGateway.from_settings()))
    thread.start()
    thread.join()
    assert elsewhere[0] is not gateway and elsewhere[0].config == gateway.config
    settings.RAZORPAY_KEY_SECRET = "rotated_key_secret"
    rotated = RazorpayGateway.from_settings()
    assert rotated is not gateway and rotated.config.key_secret == "rotated_key_secret"


def test_the_sdk_s_user_agent_is_kept_and_its_version_read_once(gateway, stub_server, monkeypatch):
    stub_server.add(
        "GET", f"/rzp/v1/orders/{ORDER_ID}/payments", json_body={"entity": "collection", "count": 0, "items": []}
    )
    stub_server.add("GET", f"/rzp/v1/orders/{ORDER_ID}", json_body=fixture_json("razorpay/order_created.json"))
    gateway.fetch_payment(gateway_order_id=ORDER_ID)
    asked: list[str] = []
    real_version = importlib.metadata.version

    def version(name: str) -> str:
        asked.append(name)
        return real_version(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    gateway.fetch_payment(gateway_order_id=ORDER_ID)
    gateway.fetch_payment(gateway_order_id=ORDER_ID)
    assert asked == []
    sdk_version = real_version("razorpay")
    user_agents = {
        call.headers["User-Agent"] for call in stub_server.calls("GET", f"/rzp/v1/orders/{ORDER_ID}/payments")
    }
    assert len(user_agents) == 1 and user_agents.pop().startswith(f"Razorpay-Python/{sdk_version}")
