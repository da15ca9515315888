"""Every gateway call has a timeout, and a silent gateway surfaces as GatewayUnavailable; no secret ever appears in
a repr, an error message or a log line."""

from __future__ import annotations

import logging

import pytest

from payfirst.core.money import Paise
from payfirst.gateways.base import GatewayAuthError, GatewayUnavailable, SignatureInvalid
from payfirst.gateways.phonepe.gateway import PhonePeGateway
from payfirst.gateways.razorpay.gateway import RazorpayGateway
from payfirst.gateways.registry import get_gateway

SECRETS = {
    "RAZORPAY_KEY_SECRET": "rzp-key-secret-5e1d",
    "RAZORPAY_WEBHOOK_SECRET": "rzp-webhook-secret-77ab",
    "PHONEPE_CLIENT_SECRET": "pp-client-secret-c0de",
    "PHONEPE_WEBHOOK_USERNAME": "ppwebhookuser",
    "PHONEPE_WEBHOOK_PASSWORD": "ppwebhookpass42",
}


@pytest.fixture
def secret_settings(settings):
    for name, value in SECRETS.items():
        setattr(settings, name, value)
    return settings


@pytest.fixture
def silent_gateways(settings, silent_server):
    settings.GATEWAY_TIMEOUT_SECONDS = 0.5
    settings.RAZORPAY_API_BASE = silent_server
    settings.PHONEPE_API_BASE = silent_server
    settings.PHONEPE_OAUTH_BASE = silent_server
    return settings


def test_razorpay_silent_gateway_is_unavailable(silent_gateways):
    gateway = RazorpayGateway.from_settings()
    with pytest.raises(GatewayUnavailable, match="timeout"):
        gateway.fetch_payment(gateway_order_id="order_EKwxwAgItmmXdp")
    with pytest.raises(GatewayUnavailable):
        gateway.create_order(reference="PAY-1", amount=Paise(50000), redirect_url=None, customer={}, description="")


def test_phonepe_silent_gateway_is_unavailable(silent_gateways):
    gateway = PhonePeGateway.from_settings()
    with pytest.raises(GatewayUnavailable, match="timeout"):
        gateway.fetch_payment(gateway_order_id="PAY-1")


def test_adapters_carry_the_configured_timeout(settings):
    settings.GATEWAY_TIMEOUT_SECONDS = 0.5
    assert RazorpayGateway.from_settings().api._client.session.timeout_seconds == 0.5
    assert PhonePeGateway.from_settings().api._timeout.read == 0.5


def test_registry_builds_each_adapter_from_current_settings(settings):
    settings.RAZORPAY_API_BASE = "http://rzp.test"
    settings.PHONEPE_API_BASE = "http://pp.test"
    razorpay, phonepe = get_gateway("razorpay"), get_gateway("phonepe")
    assert isinstance(razorpay, RazorpayGateway) and razorpay.config.api_base == "http://rzp.test"
    assert isinstance(phonepe, PhonePeGateway) and phonepe.config.api_base == "http://pp.test"
    assert (razorpay.name, phonepe.name) == ("razorpay", "phonepe")


def test_configs_and_adapters_never_show_secrets(secret_settings):
    text = " ".join(
        [
            repr(RazorpayGateway.from_settings().config),
            str(RazorpayGateway.from_settings().config),
            repr(PhonePeGateway.from_settings().config),
            str(PhonePeGateway.from_settings().config),
        ]
    )
    for value in SECRETS.values():
        assert value not in text
    assert secret_settings.RAZORPAY_KEY_ID in text  # the repr still says which account it is


def test_errors_and_logs_never_show_secrets(secret_settings, stub_server, caplog):
    stub_server.add(
        "POST",
        "/v1/oauth/token",
        status=400,
        json_body={"code": "INVALID_CLIENT", "message": f"bad secret {SECRETS['PHONEPE_CLIENT_SECRET']}"},
    )
    stub_server.add(
        "GET",
        "/v1/orders/order_1/payments",
        status=401,
        json_body={"error": {"code": "BAD_REQUEST_ERROR", "description": "Authentication failed"}},
    )
    secret_settings.RAZORPAY_API_BASE = stub_server.url
    secret_settings.PHONEPE_API_BASE = secret_settings.PHONEPE_OAUTH_BASE = stub_server.url
    caught: list[BaseException] = []
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(GatewayAuthError) as rzp:
            RazorpayGateway.from_settings().fetch_payment(gateway_order_id="order_1")
        caught.append(rzp.value)
        with pytest.raises(GatewayAuthError) as pp:
            PhonePeGateway.from_settings().fetch_payment(gateway_order_id="PAY-1")
        caught.append(pp.value)
        for call in (
            lambda: RazorpayGateway.from_settings().parse_webhook(
                headers={"X-Razorpay-Signature": "0" * 64}, body=b"{}"
            ),
            lambda: RazorpayGateway.from_settings().verify_client_signature(fields={"razorpay_order_id": "o"}),
            lambda: PhonePeGateway.from_settings().parse_webhook(headers={"Authorization": "x"}, body=b"{}"),
        ):
            with pytest.raises(SignatureInvalid) as bad:
                call()
            caught.append(bad.value)
    # The body PhonePe sent echoed the secret; the adapter scrubs it before it reaches an error message.
    assert "***" in str(caught[1])
    visible = " ".join([*(repr(e) + str(e) for e in caught), caplog.text, *(str(r.__dict__) for r in caplog.records)])
    for value in SECRETS.values():
        assert value not in visible


def test_adapters_in_one_thread_share_its_session_and_each_call_carries_its_own_key(settings, stub_server):
    """The session (and its kept connections) is per thread, not per adapter; the key pair is per request."""
    import base64
    import threading

    from payfirst.gateways.razorpay.sdk import RazorpayApi

    stub_server.add("GET", "/rzp/v1/payments/pay_1", json_body={"id": "pay_1"})
    base = f"{stub_server.url}/rzp"
    first = RazorpayApi(key_id="rzp_test_first", key_secret="s1", base_url=base, timeout_seconds=5)
    second = RazorpayApi(key_id="rzp_test_second", key_secret="s2", base_url=base, timeout_seconds=5)
    assert first._client.session is second._client.session
    first.fetch_payment("pay_1")
    second.fetch_payment("pay_1")
    keys = [
        base64.b64decode(request.headers["Authorization"].split()[1]).decode().split(":")[0]
        for request in stub_server.requests
    ]
    assert keys == ["rzp_test_first", "rzp_test_second"]

    elsewhere: list[object] = []
    thread = threading.Thread(
        target=lambda: elsewhere.append(
            RazorpayApi(key_id="k", key_secret="s", base_url=base, timeout_seconds=5)._client.session
        )
    )
    thread.start()
    thread.join()
    assert elsewhere and elsewhere[0] is not first._client.session
