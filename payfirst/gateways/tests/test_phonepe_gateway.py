"""PhonePeGateway against PhonePe's v2 REST API, played by httpx.MockTransport with recorded payloads: the OAuth token
cache (half-life, refresh once on 401, thread safety), every call's request shape, and the error mapping."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from payfirst.core.money import Paise
from payfirst.gateways.base import (
    EventKind,
    GatewayAuthError,
    GatewayRejected,
    GatewayStatus,
    GatewayUnavailable,
    RefundStatus,
    SignatureInvalid,
)
from payfirst.gateways.phonepe.gateway import PhonePeConfig, PhonePeGateway
from payfirst.gateways.phonepe.sdk import TokenCache
from payfirst.gateways.tests.conftest import fixture_bytes, fixture_json

API = "https://pg.test/apis/pg"
OAUTH = "https://pg.test/apis/identity-manager"
SECRET = "unit-client-secret-9f1c"
CUSTOMER = {"name": "Asha Rao", "email": "asha@example.com", "contact": "+919876543210"}


@dataclass
class FakePhonePe:
    """PhonePe's API as a function of the request; tests set `handlers` per path and read `seen` afterwards."""

    now: int = 1_706_073_005
    lifetime: int = 3600
    issued: int = 0
    valid_tokens: set[str] = field(default_factory=set)
    handlers: dict[tuple[str, str], Callable[[httpx.Request], httpx.Response]] = field(default_factory=dict)
    seen: list[httpx.Request] = field(default_factory=list)
    token_lock: threading.Lock = field(default_factory=threading.Lock)

    def issue_token(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        if form.get("client_secret") != [SECRET]:
            return httpx.Response(400, json=fixture_json("phonepe/error_invalid_client.json"))
        with self.token_lock:
            self.issued += 1
            token = f"token-{self.issued}"
        self.valid_tokens.add(token)
        return httpx.Response(
            200,
            json={
                **fixture_json("phonepe/token.json"),
                "access_token": token,
                "issued_at": self.now,
                "expires_at": self.now + self.lifetime,
            },
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.path == "/apis/identity-manager/v1/oauth/token":
            return self.issue_token(request)
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("O-Bearer ") or auth.removeprefix("O-Bearer ") not in self.valid_tokens:
            return httpx.Response(401, json={"success": False, "code": "401"})
        handler = self.handlers.get((request.method, request.url.path))
        if handler is None:
            return httpx.Response(404, json=fixture_json("phonepe/error_order_not_found.json"))
        return handler(request)

    def api_calls(self) -> list[httpx.Request]:
        return [r for r in self.seen if not r.url.path.endswith("/oauth/token")]

    def token_calls(self) -> list[httpx.Request]:
        return [r for r in self.seen if r.url.path.endswith("/oauth/token")]


def _config(**overrides: Any) -> PhonePeConfig:
    values: dict[str, Any] = dict(
        client_id="UNITCLIENT",
        client_secret=SECRET,
        client_version=1,
        api_base=API,
        oauth_base=OAUTH,
        webhook_username="unituser",
        webhook_password="unitpass123",
        timeout_seconds=2.0,
        expiry_minutes=15,
    )
    return PhonePeConfig(**{**values, **overrides})


@pytest.fixture
def phonepe() -> FakePhonePe:
    return FakePhonePe()


@pytest.fixture
def make_gateway(phonepe):
    tokens = TokenCache(clock=lambda: phonepe.now)

    def make(**overrides: Any) -> PhonePeGateway:
        return PhonePeGateway(
            _config(**overrides), http=httpx.Client(transport=httpx.MockTransport(phonepe)), tokens=tokens
        )

    return make


@pytest.fixture
def gateway(make_gateway) -> PhonePeGateway:
    return make_gateway()


def _json(payload: Any, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json=payload)


def _status_path(moid: str = "PAY-7Q3K9X2M") -> tuple[str, str]:
    return ("GET", f"/apis/pg/checkout/v2/order/{moid}/status")


# Token -------------------------------------------------------------------------------------------------------------


def test_token_request_is_a_client_credentials_form(gateway, phonepe):
    phonepe.handlers[_status_path()] = _json(fixture_json("phonepe/order_status_pending.json"))
    gateway.fetch_payment(gateway_order_id="PAY-7Q3K9X2M")
    [token_call] = phonepe.token_calls()
    assert token_call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(token_call.content.decode()) == {
        "client_id": ["UNITCLIENT"],
        "client_version": ["1"],
        "client_secret": [SECRET],
        "grant_type": ["client_credentials"],
    }
    [api_call] = phonepe.api_calls()
    assert api_call.headers["Authorization"] == "O-Bearer token-1"


def test_token_is_reused_until_half_life_then_refreshed(gateway, phonepe):
    phonepe.handlers[_status_path()] = _json(fixture_json("phonepe/order_status_pending.json"))
    start = phonepe.now
    gateway.fetch_payment(gateway_order_id="PAY-7Q3K9X2M")
    phonepe.now = start + 1799  # half of 3600 not reached yet
    gateway.fetch_payment(gateway_order_id="PAY-7Q3K9X2M")
    assert len(phonepe.token_calls()) == 1
    phonepe.now = start + 1800  # issued_at + (expires_at - issued_at)//2 is no longer in the future
    gateway.fetch_payment(gateway_order_id="PAY-7Q3K9X2M")
    assert len(phonepe.token_calls()) == 2
    assert phonepe.api_calls()[-1].headers["Authorization"] == "O-Bearer token-2"


def test_token_cache_is_shared_by_adapters_with_the_same_credentials(make_gateway, phonepe):
    phonepe.handlers[_status_path()] = _json(fixture_json("phonepe/order_status_pending.json"))
    make_gateway().fetch_payment(gateway_order_id="PAY-7Q3K9X2M")
    make_gateway().fetch_payment(gateway_order_id="PAY-7Q3K9X2M")
    assert len(phonepe.token_calls()) == 1


def test_a_401_refreshes_the_token_once_and_retries_once(gateway, phonepe):
    phonepe.handlers[_status_path()] = _json(fixture_json("phonepe/order_status_completed.json"))
    gateway.fetch_payment(gateway_order_id="PAY-7Q3K9X2M")
    phonepe.valid_tokens.clear()  # PhonePe revoked the cached token before its half-life
    payment = gateway.fetch_payment(gateway_order_id="PAY-7Q3K9X2M")
    assert payment.status is GatewayStatus.CAPTURED
    assert len(phonepe.token_calls()) == 2
    assert [r.headers["Authorization"] for r in phonepe.api_calls()] == [
        "O-Bearer token-1",
        "O-Bearer token-1",
        "O-Bearer token-2",
    ]


def test_a_second_401_is_an_auth_error_without_a_third_try(gateway, phonepe):
    phonepe.handlers[_status_path()] = _json({"success": False, "code": "401"}, status=401)
    with pytest.raises(GatewayAuthError):
        gateway.fetch_payment(gateway_order_id="PAY-7Q3K9X2M")
    assert len(phonepe.api_calls()) == 2 and len(phonepe.token_calls()) == 2


def test_wrong_client_secret_is_an_auth_error_that_never_shows_the_secret(make_gateway):
    with pytest.raises(GatewayAuthError) as caught:
        make_gateway(client_secret="wrong-secret-value").fetch_payment(gateway_order_id="PAY-7Q3K9X2M")
    assert "wrong-secret-value" not in str(caught.value)
    assert "OIM000" in str(caught.value)  # PhonePe's errorCode is kept for whoever reads the log


@pytest.mark.parametrize(
    "token_body",
    [
        {"access_token": "t"},
        {"access_token": "t", "issued_at": "1", "expires_at": 2},
        {"access_token": "", "issued_at": 1, "expires_at": 2},
        {"access_token": "t", "issued_at": 5, "expires_at": 2},
    ],
)
def test_malformed_token_answers_are_rejected(make_gateway, phonepe, token_body):
    phonepe.issue_token = lambda request: httpx.Response(200, json=token_body)
    with pytest.raises(GatewayRejected):
        make_gateway().fetch_payment(gateway_order_id="PAY-7Q3K9X2M")


def test_concurrent_callers_fetch_one_token(make_gateway, phonepe):
    phonepe.handlers[_status_path()] = _json(fixture_json("phonepe/order_status_pending.json"))
    original = phonepe.issue_token
    entered = threading.Event()
    release = threading.Event()

    def slow_token(request: httpx.Request) -> httpx.Response:
        entered.set()
        release.wait(5)  # hold the first fetch open until every thread has asked for a token
        return original(request)

    phonepe.issue_token = slow_token
    gateways = [make_gateway() for _ in range(8)]
    errors: list[BaseException] = []

    def call(g: PhonePeGateway) -> None:
        try:
            g.fetch_payment(gateway_order_id="PAY-7Q3K9X2M")
        except BaseException as exc:  # collected and re-raised by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(g,)) for g in gateways]
    for t in threads:
        t.start()
    assert entered.wait(5)
    release.set()
    for t in threads:
        t.join(5)
    assert not errors
    assert len(phonepe.token_calls()) == 1 and len(phonepe.api_calls()) == 8


# Calls -------------------------------------------------------------------------------------------------------------


def test_create_order_pays_with_our_reference_and_redirect(gateway, phonepe):
    phonepe.handlers[("POST", "/apis/pg/checkout/v2/pay")] = _json(fixture_json("phonepe/pay.json"))
    order = gateway.create_order(
        reference="PAY-7Q3K9X2M",
        amount=Paise(50000),
        redirect_url="https://shop.test/back",
        customer=CUSTOMER,
        description="2 items",
    )
    [call] = phonepe.api_calls()
    body = json.loads(call.content)
    assert body["merchantOrderId"] == "PAY-7Q3K9X2M" and body["amount"] == 50000
    assert body["paymentFlow"]["type"] == "PG_CHECKOUT"
    assert body["paymentFlow"]["merchantUrls"] == {"redirectUrl": "https://shop.test/back"}
    assert body["expireAfter"] == 900
    assert call.headers["Content-Type"] == "application/json"
    assert order.gateway_order_id == "PAY-7Q3K9X2M" and order.amount == Paise(50000) and order.currency == "INR"
    assert dict(order.checkout) == {"redirect_url": fixture_json("phonepe/pay.json")["redirectUrl"]}


@pytest.mark.parametrize("minutes, seconds", [(1, 300), (5, 300), (15, 900), (60, 3600), (240, 3600)])
def test_expire_after_is_clamped_to_phonepes_range(minutes, seconds):
    assert _config(expiry_minutes=minutes).expire_after_seconds == seconds


def test_create_order_needs_a_redirect_url(gateway, phonepe):
    with pytest.raises(GatewayRejected):
        gateway.create_order(
            reference="PAY-1", amount=Paise(50000), redirect_url=None, customer=CUSTOMER, description=""
        )
    assert not phonepe.seen


def test_create_order_without_redirect_in_answer_is_rejected(gateway, phonepe):
    phonepe.handlers[("POST", "/apis/pg/checkout/v2/pay")] = _json({"orderId": "OMO1", "state": "PENDING"})
    with pytest.raises(GatewayRejected):
        gateway.create_order(
            reference="PAY-1",
            amount=Paise(50000),
            redirect_url="https://shop.test/back",
            customer=CUSTOMER,
            description="",
        )


def test_fetch_payment_asks_for_details(gateway, phonepe):
    phonepe.handlers[_status_path()] = _json(fixture_json("phonepe/order_status_completed.json"))
    payment = gateway.fetch_payment(gateway_order_id="PAY-7Q3K9X2M")
    [call] = phonepe.api_calls()
    assert call.url.params["details"] == "true"
    assert payment.status is GatewayStatus.CAPTURED and payment.gateway_payment_id == "OM2406121817537233671905"


def test_refund_uses_our_reference_as_merchant_refund_id(gateway, phonepe):
    phonepe.handlers[("POST", "/apis/pg/payments/v2/refund")] = _json(fixture_json("phonepe/refund.json"))
    refund = gateway.refund(
        gateway_order_id="PAY-7Q3K9X2M",
        gateway_payment_id="OM2406121817537233671905",
        amount=Paise(20000),
        reference="RF-3F9A21C7",
    )
    [call] = phonepe.api_calls()
    assert json.loads(call.content) == {
        "merchantRefundId": "RF-3F9A21C7",
        "amount": 20000,
        "originalMerchantOrderId": "PAY-7Q3K9X2M",
    }
    assert (refund.gateway_refund_id, refund.reference, refund.status) == (
        "RF-3F9A21C7",
        "RF-3F9A21C7",
        RefundStatus.PENDING,
    )


def test_refund_repeat_refused_by_phonepe_returns_the_existing_refund(gateway, phonepe):
    phonepe.handlers[("POST", "/apis/pg/payments/v2/refund")] = _json(
        {"code": "DUPLICATE_REQUEST", "message": "Refund already exists"}, status=409
    )
    phonepe.handlers[("GET", "/apis/pg/payments/v2/refund/RF-3F9A21C7/status")] = _json(
        fixture_json("phonepe/refund_status_completed.json")
    )
    refund = gateway.refund(
        gateway_order_id="PAY-7Q3K9X2M", gateway_payment_id="x", amount=Paise(20000), reference="RF-3F9A21C7"
    )
    assert refund.status is RefundStatus.PROCESSED and refund.amount == Paise(20000)


def test_refund_refused_with_no_existing_refund_raises_the_refusal(gateway, phonepe):
    phonepe.handlers[("POST", "/apis/pg/payments/v2/refund")] = _json(
        {"code": "BAD_REQUEST", "message": "Refund amount exceeds"}, status=400
    )
    with pytest.raises(GatewayRejected, match="Refund amount exceeds"):
        gateway.refund(gateway_order_id="PAY-7Q3K9X2M", gateway_payment_id="x", amount=Paise(90000), reference="RF-NEW")


def test_fetch_refund(gateway, phonepe):
    phonepe.handlers[("GET", "/apis/pg/payments/v2/refund/RF-3F9A21C7/status")] = _json(
        {**fixture_json("phonepe/refund_status_completed.json"), "state": "CONFIRMED"}
    )
    refund = gateway.fetch_refund(gateway_payment_id="", gateway_refund_id="RF-3F9A21C7", reference="RF-3F9A21C7")
    assert refund.status is RefundStatus.PENDING and refund.amount == Paise(20000)


def test_verify_client_signature_is_razorpay_only(gateway):
    with pytest.raises(GatewayRejected, match="Razorpay-only"):
        gateway.verify_client_signature(fields={"razorpay_signature": "x"})


def test_parse_webhook_verifies_the_authorization_then_parses(gateway):
    from payfirst.gateways.phonepe.signature import callback_authorization

    body = fixture_bytes("phonepe/callback_order_completed.json")
    auth = callback_authorization(username="unituser", password="unitpass123")
    event = gateway.parse_webhook(headers={"authorization": auth}, body=body)
    assert event.kind is EventKind.PAYMENT and event.gateway_order_id == "PAY-7Q3K9X2M" and event.status == "COMPLETED"
    with pytest.raises(SignatureInvalid):
        gateway.parse_webhook(headers={"Authorization": auth.upper()}, body=body)
    with pytest.raises(SignatureInvalid):
        gateway.parse_webhook(headers={}, body=body)
    with pytest.raises(GatewayRejected):
        gateway.parse_webhook(headers={"Authorization": auth}, body=b"\xff not json")


def test_parse_webhook_unknown_event_is_other(gateway):
    from payfirst.gateways.phonepe.signature import callback_authorization

    auth = callback_authorization(username="unituser", password="unitpass123")
    body = b'{"event": "subscription.notification.completed", "type": "NEW_TYPE", "payload": {"x": 1}}'
    assert gateway.parse_webhook(headers={"Authorization": auth}, body=body).kind is EventKind.OTHER


# Errors ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, payload, error",
    [
        (400, {"code": "BAD_REQUEST", "message": "Invalid merchantOrderId"}, GatewayRejected),
        (404, fixture_json("phonepe/error_order_not_found.json"), GatewayRejected),
        (409, {"code": "CONFLICT"}, GatewayRejected),
        (422, {"code": "INVALID"}, GatewayRejected),
        (403, {"code": "FORBIDDEN", "message": "Not allowed"}, GatewayAuthError),
        (429, {"code": "TOO_MANY_REQUESTS"}, GatewayUnavailable),
        (500, {"code": "INTERNAL_SERVER_ERROR", "message": "oops"}, GatewayUnavailable),
        (503, None, GatewayUnavailable),
    ],
)
def test_http_errors_map_to_the_gateway_error_tree(gateway, phonepe, status, payload, error):
    phonepe.handlers[_status_path()] = (
        _json(payload, status=status) if payload is not None else (lambda r: httpx.Response(status, text="<html>"))
    )
    with pytest.raises(error) as caught:
        gateway.fetch_payment(gateway_order_id="PAY-7Q3K9X2M")
    assert SECRET not in str(caught.value) and "token-1" not in str(caught.value)


def test_non_json_success_is_unavailable(gateway, phonepe):
    phonepe.handlers[_status_path()] = lambda r: httpx.Response(200, text="<html>maintenance</html>")
    with pytest.raises(GatewayUnavailable):
        gateway.fetch_payment(gateway_order_id="PAY-7Q3K9X2M")


def test_transport_errors_are_unavailable(make_gateway, phonepe):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def stall(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    for broken in (refuse, stall):
        gateway = PhonePeGateway(
            _config(), http=httpx.Client(transport=httpx.MockTransport(broken)), tokens=TokenCache()
        )
        with pytest.raises(GatewayUnavailable):
            gateway.fetch_payment(gateway_order_id="PAY-7Q3K9X2M")
