"""The sandbox exists only in sandbox mode: with PAYFIRST_GATEWAYS=live none of its URLs resolve."""

from __future__ import annotations

import importlib

import pytest
from django.urls import Resolver404, clear_url_caches, resolve

import config.urls

SANDBOX_PATHS = [
    "/sandbox/faults/",
    "/sandbox/razorpay/v1/orders",
    "/sandbox/razorpay/checkout/order_x/",
    "/sandbox/phonepe/v1/oauth/token",
    "/sandbox/phonepe/pay/MO1/",
]


@pytest.fixture
def live_urls(settings):
    settings.PAYFIRST_GATEWAYS = "live"
    importlib.reload(config.urls)
    clear_url_caches()
    yield
    settings.PAYFIRST_GATEWAYS = "sandbox"
    importlib.reload(config.urls)
    clear_url_caches()


def test_sandbox_urls_resolve_in_sandbox_mode():
    for path in SANDBOX_PATHS:
        assert resolve(path).namespace == "sandbox"


@pytest.mark.django_db
def test_sandbox_is_unreachable_when_live(live_urls, client):
    for path in SANDBOX_PATHS:
        with pytest.raises(Resolver404):
            resolve(path)
    assert (
        client.post(
            "/sandbox/faults/", {"gateway": "razorpay", "fault": "api_error"}, content_type="application/json"
        ).status_code
        == 404
    )


@pytest.mark.django_db
def test_schema_describes_the_sandbox_endpoints(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    assert "/sandbox/faults/" in paths and "/sandbox/razorpay/checkout/{order_id}/pay" in paths
    assert "/sandbox/phonepe/checkout/v2/pay" in paths
    assert paths["/sandbox/faults/"]["post"]["requestBody"]
