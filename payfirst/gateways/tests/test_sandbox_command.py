"""`manage.py sandbox` against the sandbox server: arm and list faults, trigger one signed event, list deliveries."""

from __future__ import annotations

from io import StringIO

import httpx
import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> str:
    out = StringIO()
    call_command("sandbox", *args, stdout=out)
    return out.getvalue()


def test_faults_arm_show_and_clear(sandbox):
    assert "kind" in run("faults")
    assert run("faults", "arm", "razorpay", "late_authorization", "--count", "2", "--delay", "120") == (
        "armed razorpay late_authorization x2\n"
    )
    assert "late_authorization" in run("faults") and "x2 delay 120 s" in run("faults")
    assert run("faults", "clear") == "faults cleared\n"
    assert "kind" in run("faults")
    with pytest.raises(CommandError, match="fault"):
        run("faults", "arm", "razorpay", "meteor_strike")


def test_trigger_sends_one_signed_event_and_deliveries_lists_it(sandbox, settings):
    auth = (settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET)
    order = httpx.post(f"{sandbox.razorpay}/v1/orders", json={"amount": 10000, "currency": "INR"}, auth=auth).json()
    with pytest.raises(CommandError, match="no payment yet"):
        run("trigger", "payment.captured", "--order", order["id"])
    httpx.post(f"{sandbox.razorpay}/checkout/{order['id']}/pay", json={"outcome": "success"})
    sandbox.wait_idle()
    before = len(sandbox.deliveries(gateway="razorpay", event="payment.captured"))
    out = run("trigger", "payment.captured", "--order", order["id"])
    assert out.startswith("queued payment.captured #") and "/api/payments/webhook/razorpay/" in out
    sandbox.wait_idle()
    assert len(sandbox.deliveries(gateway="razorpay", event="payment.captured")) == before + 1
    listed = run("deliveries", "--gateway", "razorpay", "--event", "payment.captured", "--limit", "5")
    assert "payment.captured" in listed and "delivered" in listed and "200" in listed


def test_endpoints_are_listed(sandbox):
    out = run("endpoints", "--enable", "razorpay")
    assert "razorpay  enabled" in out and "phonepe   enabled" in out


def test_the_command_refuses_live_mode_and_a_missing_sandbox(settings):
    settings.PAYFIRST_GATEWAYS = "live"
    with pytest.raises(CommandError, match="only when PAYFIRST_GATEWAYS=sandbox"):
        run("faults")
    settings.PAYFIRST_GATEWAYS = "sandbox"
    settings.SANDBOX_BASE_URL = "http://127.0.0.1:9"
    with pytest.raises(CommandError, match="Is it running"):
        run("faults")
