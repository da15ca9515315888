"""Drives the official PhonePe SDK (phonepe-pg-sdk-python) against the sandbox. Runs ONLY with the python of the
throwaway virtualenv the conformance test builds, never in payfirst's own environment. Reads a JSON config on stdin,
prints one JSON object of what the SDK saw."""

from __future__ import annotations

import json
import sys

config = json.loads(sys.stdin.read())

# GATEWAYS.md 2.1: the SDK has no base-URL setting; patch env.py's module globals before the first get_instance.
import phonepe.sdk.pg.env as pp_env  # noqa: E402

pp_env.SANDBOX_PG_BASE_URL = config["base_url"]
pp_env.SANDBOX_OAUTH_BASE_URL = config["base_url"]

import requests  # noqa: E402
from phonepe.sdk.pg.common.exceptions import PhonePeException  # noqa: E402
from phonepe.sdk.pg.common.models.request.meta_info import MetaInfo  # noqa: E402
from phonepe.sdk.pg.common.models.request.refund_request import RefundRequest  # noqa: E402
from phonepe.sdk.pg.env import Env  # noqa: E402
from phonepe.sdk.pg.payments.v2.models.request.standard_checkout_pay_request import (  # noqa: E402
    StandardCheckoutPayRequest,
)
from phonepe.sdk.pg.payments.v2.standard_checkout_client import StandardCheckoutClient  # noqa: E402


def failure(exc: PhonePeException) -> dict:
    return {"type": type(exc).__name__, "status": exc.http_status_code, "code": exc.code}


def attempt(detail) -> dict:
    return {
        "transaction_id": detail.transaction_id,
        "payment_mode": detail.payment_mode.value if detail.payment_mode else None,
        "state": detail.state,
        "amount": detail.amount,
        "rail": type(detail.rail).__name__,
        "instrument": type(detail.instrument).__name__,
        "error_code": detail.error_code,
    }


def status(answer) -> dict:
    return {
        "state": answer.state,
        "order_id": answer.order_id,
        "merchant_order_id": answer.merchant_order_id,
        "amount": answer.amount,
        "expire_at": answer.expire_at,
        "error_code": answer.error_code,
        "udf1": answer.meta_info.udf1 if answer.meta_info else None,
        "attempts": [attempt(item) for item in answer.payment_details or []],
    }


out: dict = {}
try:
    bad = StandardCheckoutClient.get_instance(
        client_id=config["client_id"],
        client_secret="wrong-secret",
        client_version=config["client_version"],
        env=Env.SANDBOX,
        should_publish_events=False,
    )
    out["bad_credentials"] = None
    bad.close()
except PhonePeException as exc:
    out["bad_credentials"] = failure(exc)

client = StandardCheckoutClient.get_instance(
    client_id=config["client_id"],
    client_secret=config["client_secret"],
    client_version=config["client_version"],
    env=Env.SANDBOX,
    should_publish_events=False,
)
try:
    if config["phase"] == "pay":
        order_id, refund_id = config["merchant_order_id"], config["merchant_refund_id"]
        request = StandardCheckoutPayRequest.build_request(
            merchant_order_id=order_id,
            amount=config["amount"],
            redirect_url=config["redirect_url"],
            message="payfirst sandbox",
            meta_info=MetaInfo(udf1="order-ref", udf11="plain text"),
        )
        paid = client.pay(request)
        out["pay"] = {
            "order_id": paid.order_id,
            "state": paid.state,
            "expire_at": paid.expire_at,
            "redirect_url": paid.redirect_url,
        }
        try:
            client.pay(request)
            out["duplicate"] = None
        except PhonePeException as exc:
            out["duplicate"] = failure(exc)
        out["before"] = status(client.get_order_status(order_id))
        complete_url = paid.redirect_url.rstrip("/") + "/complete"
        out["complete"] = requests.post(complete_url, json={"outcome": "success"}, timeout=10).json()
        out["after"] = status(client.get_order_status(order_id, details=True))
        transaction_id = out["after"]["attempts"][0]["transaction_id"]
        out["transaction"] = status(client.get_transaction_status(transaction_id))
        refund = client.refund(
            RefundRequest.build_refund_request(
                merchant_refund_id=refund_id, amount=config["refund_amount"], original_merchant_order_id=order_id
            )
        )
        out["refund"] = {"refund_id": refund.refund_id, "amount": refund.amount, "state": refund.state}
        out["refund_status"] = client.get_refund_status(refund_id).state
        try:
            client.get_order_status("NO-SUCH-ORDER")
            out["missing"] = None
        except PhonePeException as exc:
            out["missing"] = failure(exc)
        failed_id = config["failed_order_id"]
        client.pay(
            StandardCheckoutPayRequest.build_request(
                merchant_order_id=failed_id, amount=config["amount"], redirect_url=config["redirect_url"]
            )
        )
        requests.post(f"{config['base_url']}/pay/{failed_id}/complete", json={"outcome": "failure"}, timeout=10)
        out["failed"] = status(client.get_order_status(failed_id, details=False))
    else:
        out["refund_status"] = client.get_refund_status(config["merchant_refund_id"]).state
        out["callbacks"] = []
        for callback in config["callbacks"]:
            parsed = client.validate_callback(
                username=config["username"],
                password=config["password"],
                callback_header_data=callback["authorization"],
                callback_response_data=callback["body"],
            )
            payload = parsed.payload
            out["callbacks"].append(
                {
                    "event": parsed.event,
                    "type": parsed.type.value if parsed.type else None,
                    "state": payload.state,
                    "merchant_order_id": payload.merchant_order_id,
                    "original_merchant_order_id": payload.original_merchant_order_id,
                    "merchant_refund_id": payload.merchant_refund_id,
                    "amount": payload.amount,
                    "attempts": [attempt(item) for item in payload.payment_details or []],
                }
            )
        try:
            client.validate_callback(
                username=config["username"],
                password="not-the-password",
                callback_header_data=config["callbacks"][0]["authorization"],
                callback_response_data=config["callbacks"][0]["body"],
            )
            out["wrong_password"] = None
        except PhonePeException as exc:
            out["wrong_password"] = failure(exc)
finally:
    client.close()

print(json.dumps(out))
