"""Conformance: the official PhonePe SDK (phonepe-pg-sdk-python 3.0.1), unmodified, against the sandbox over real
HTTP. The SDK pins vulnerable requests/urllib3, so it is installed only in a throwaway virtualenv built for this
session and driven by a script run with that virtualenv's python; payfirst's own environment never sees it."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import requests

from sandbox.signing import phonepe_callback_authorization

SDK_REQUIREMENT = "phonepe-pg-sdk-python==3.0.1"
DRIVER = Path(__file__).with_name("phonepe_sdk_driver.py")


@pytest.fixture(scope="session")
def phonepe_sdk_python(tmp_path_factory) -> Path:
    """The python of a fresh virtualenv holding only the PhonePe SDK and its pinned dependencies."""
    home = tmp_path_factory.mktemp("phonepe-sdk-venv")
    venv.EnvBuilder(with_pip=True, clear=True).create(home)
    python = home / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", SDK_REQUIREMENT],
        check=True,
        timeout=300,
        capture_output=True,
    )
    return python


def test_phonepe_sdk_is_not_in_the_application_environment():
    probe = subprocess.run([sys.executable, "-c", "import phonepe.sdk.pg"], capture_output=True, timeout=60)
    assert probe.returncode != 0


def run_driver(python: Path, config: dict) -> dict:
    finished = subprocess.run(
        [str(python), str(DRIVER)], input=json.dumps(config), capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return json.loads(finished.stdout.strip().splitlines()[-1])


def test_phonepe_sdk_token_pay_status_refund_and_callbacks(phonepe_sdk_python, sandbox, settings, receiver):
    base = {
        "base_url": sandbox.phonepe,
        "client_id": settings.PHONEPE_CLIENT_ID,
        "client_secret": settings.PHONEPE_CLIENT_SECRET,
        "client_version": settings.PHONEPE_CLIENT_VERSION,
        "merchant_order_id": "PF-PP-1001",
        "merchant_refund_id": "PF-PP-1001-R1",
    }
    seen = run_driver(
        phonepe_sdk_python,
        {
            **base,
            "phase": "pay",
            "amount": 25000,
            "refund_amount": 10000,
            "failed_order_id": "PF-PP-1002",
            "redirect_url": "http://localhost:3000/payments/return?payment_id=7",
        },
    )

    assert seen["bad_credentials"] == {"type": "BadRequest", "status": 400, "code": "OIM000"}
    pay = seen["pay"]
    assert pay["order_id"].startswith("OMO") and pay["state"] == "PENDING"
    assert pay["expire_at"] > 1_600_000_000_000  # epoch milliseconds
    assert pay["redirect_url"] == f"{sandbox.url}/sandbox/phonepe/pay/PF-PP-1001/"
    assert seen["duplicate"]["status"] == 400
    assert seen["before"]["state"] == "PENDING" and seen["before"]["attempts"] == []
    assert seen["complete"] == {"redirect_url": "http://localhost:3000/payments/return?payment_id=7"}
    after = seen["after"]
    assert (after["state"], after["amount"], after["order_id"], after["udf1"]) == (
        "COMPLETED",
        25000,
        pay["order_id"],
        "order-ref",
    )
    [paid] = after["attempts"]
    assert paid["transaction_id"].startswith("OM") and paid["state"] == "COMPLETED"
    assert (paid["payment_mode"], paid["rail"], paid["instrument"]) == (
        "UPI_INTENT",
        "UpiPaymentRail",
        "AccountPaymentInstrumentV2",
    )
    assert seen["transaction"]["attempts"][0]["transaction_id"] == paid["transaction_id"]
    assert seen["refund"]["refund_id"].startswith("OMR")
    assert (seen["refund"]["amount"], seen["refund"]["state"], seen["refund_status"]) == (10000, "PENDING", "PENDING")
    assert seen["missing"] == {"type": "ResourceNotFound", "status": 404, "code": "ORDER_NOT_FOUND"}
    assert seen["failed"]["state"] == "FAILED" and seen["failed"]["attempts"][0]["state"] == "FAILED"

    receiver.wait_for(4)  # the order callbacks, then the refund walks PENDING -> CONFIRMED -> COMPLETED
    assert receiver.events() == [
        "checkout.order.completed",
        "checkout.order.failed",
        "pg.refund.accepted",
        "pg.refund.completed",
    ]
    expected_header = phonepe_callback_authorization(
        username=settings.PHONEPE_WEBHOOK_USERNAME, password=settings.PHONEPE_WEBHOOK_PASSWORD
    )
    assert {item.headers["Authorization"] for item in receiver.received} == {expected_header}
    assert {item.path for item in receiver.received} == {"/api/payments/webhook/phonepe/"}

    checked = run_driver(
        phonepe_sdk_python,
        {
            **base,
            "phase": "callbacks",
            "username": settings.PHONEPE_WEBHOOK_USERNAME,
            "password": settings.PHONEPE_WEBHOOK_PASSWORD,
            "callbacks": [
                {"authorization": item.headers["Authorization"], "body": item.body.decode("utf-8")}
                for item in receiver.received
            ],
        },
    )
    assert checked["refund_status"] == "COMPLETED"
    completed, failed, accepted, refunded = checked["callbacks"]
    assert (completed["type"], completed["state"], completed["merchant_order_id"]) == (
        "CHECKOUT_ORDER_COMPLETED",
        "COMPLETED",
        "PF-PP-1001",
    )
    assert completed["attempts"][0]["payment_mode"] == "UPI_INTENT"
    assert (failed["type"], failed["state"], failed["merchant_order_id"]) == (
        "CHECKOUT_ORDER_FAILED",
        "FAILED",
        "PF-PP-1002",
    )
    assert (accepted["type"], accepted["state"]) == ("PG_REFUND_ACCEPTED", "CONFIRMED")
    assert (refunded["type"], refunded["state"], refunded["merchant_refund_id"], refunded["amount"]) == (
        "PG_REFUND_COMPLETED",
        "COMPLETED",
        "PF-PP-1001-R1",
        10000,
    )
    assert refunded["original_merchant_order_id"] == "PF-PP-1001"
    assert checked["wrong_password"] == {"type": "PhonePeException", "status": 417, "code": None}

    page = requests.get(pay["redirect_url"], timeout=10)
    assert page.status_code == 200 and "₹250.00" in page.text
