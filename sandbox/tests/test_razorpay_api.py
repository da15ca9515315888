"""Razorpay endpoints beyond what the SDK test walks through: notes, listing and paging, X-Refund-Idempotency
(receipts are not unique), capture mode, and the rate_limit fault's 429."""

from __future__ import annotations

import base64

import pytest
import razorpay.errors

RZP = "/sandbox/razorpay/v1"


@pytest.fixture
def auth(settings) -> dict:
    token = base64.b64encode(f"{settings.RAZORPAY_KEY_ID}:{settings.RAZORPAY_KEY_SECRET}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


def create(client, auth, **body):
    return client.post(
        f"{RZP}/orders", {"amount": 10000, "currency": "INR", **body}, content_type="application/json", **auth
    )


def test_notes_are_an_object_when_given(client, auth):
    order = create(client, auth, notes={"reference": "PF-1"}).json()
    assert order["notes"] == {"reference": "PF-1"}
    too_many = create(client, auth, notes={f"k{i}": "v" for i in range(16)})
    assert too_many.status_code == 400 and too_many.json()["error"]["field"] == "notes"


def test_list_orders_by_receipt_and_page(client, auth):
    for receipt in ("A", "B", "A"):
        create(client, auth, receipt=receipt)
    listed = client.get(f"{RZP}/orders", {"receipt": "A"}, **auth).json()
    assert listed["entity"] == "collection" and listed["count"] == 2
    assert client.get(f"{RZP}/orders", {"count": 1, "skip": 1}, **auth).json()["count"] == 1
    bad = client.get(f"{RZP}/orders", {"count": "many"}, **auth)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "BAD_REQUEST_ERROR"


def paid_payment(client, auth) -> str:
    order = create(client, auth).json()
    return client.post(
        f"/sandbox/razorpay/checkout/{order['id']}/pay", {"outcome": "success"}, content_type="application/json"
    ).json()["razorpay_payment_id"]


def refund(client, auth, pay_id, body, key=None):
    headers = {"HTTP_X_REFUND_IDEMPOTENCY": key} if key else {}
    return client.post(f"{RZP}/payments/{pay_id}/refund", body, content_type="application/json", **auth, **headers)


def test_receipts_are_not_unique_without_an_idempotency_key(client, auth):
    pay_id = paid_payment(client, auth)
    first = refund(client, auth, pay_id, {"amount": 1000, "receipt": "R"})
    second = refund(client, auth, pay_id, {"amount": 1000, "receipt": "R"})
    assert first.status_code == second.status_code == 200
    assert first.json()["id"] != second.json()["id"]  # Razorpay does not de-duplicate on receipt
    listed = client.get(f"{RZP}/payments/{pay_id}/refunds", **auth).json()
    assert listed["count"] == 2 and {item["receipt"] for item in listed["items"]} == {"R"}
    assert client.get(f"{RZP}/payments/{pay_id}", **auth).json()["amount_refunded"] == 2000


def test_same_idempotency_key_and_body_return_the_same_refund(client, auth):
    pay_id = paid_payment(client, auth)
    first = refund(client, auth, pay_id, {"amount": 1000, "receipt": "R"}, key="refund-key-0001")
    again = refund(client, auth, pay_id, {"amount": 1000, "receipt": "R"}, key="refund-key-0001")
    assert first.status_code == again.status_code == 200 and again.json() == first.json()
    other_key = refund(client, auth, pay_id, {"amount": 1000, "receipt": "R"}, key="refund-key-0002")
    assert other_key.json()["id"] != first.json()["id"]
    assert client.get(f"{RZP}/payments/{pay_id}/refunds", **auth).json()["count"] == 2


def test_same_idempotency_key_with_another_body_is_refused(client, auth):
    pay_id = paid_payment(client, auth)
    refund(client, auth, pay_id, {"amount": 1000}, key="refund-key-0003")
    other = refund(client, auth, pay_id, {"amount": 2000}, key="refund-key-0003")
    assert other.status_code == 400
    error = other.json()["error"]
    assert error["code"] == "BAD_REQUEST_ERROR" and error["field"] == "X-Refund-Idempotency"
    assert client.get(f"{RZP}/payments/{pay_id}/refunds", **auth).json()["count"] == 1


@pytest.mark.parametrize("key", ["short", "has space in it", "x" * 65, "semi;colon;key"])
def test_idempotency_key_format_is_checked(client, auth, key):
    pay_id = paid_payment(client, auth)
    answer = refund(client, auth, pay_id, {"amount": 1000}, key=key)
    assert answer.status_code == 400 and answer.json()["error"]["field"] == "X-Refund-Idempotency"
    assert client.get(f"{RZP}/payments/{pay_id}/refunds", **auth).json()["count"] == 0


def test_refund_lookups_check_the_payment(client, auth):
    pay_id = paid_payment(client, auth)
    first = refund(client, auth, pay_id, {"amount": 1000})
    wrong_payment = client.get(f"{RZP}/payments/pay_00000000000000/refunds/{first.json()['id']}", **auth)
    assert wrong_payment.status_code == 400


def test_rate_limit_fault_answers_429_in_razorpay_shape(client, auth, sandbox, rzp):
    sandbox.arm("razorpay", "rate_limit", count=2)
    for _ in range(2):
        limited = create(client, auth)
        assert limited.status_code == 429
        error = limited.json()["error"]
        assert (error["code"], error["description"]) == ("BAD_REQUEST_ERROR", "Too many requests")
    assert create(client, auth).status_code == 200
    sandbox.arm("razorpay", "rate_limit")
    with pytest.raises(razorpay.errors.BadRequestError, match="Too many requests"):
        rzp.order.create({"amount": 100, "currency": "INR"})


def test_payment_capture_flag_and_bad_json(client, auth):
    assert create(client, auth, payment_capture="sometimes").status_code == 400
    broken = client.post(f"{RZP}/orders", "{not json", content_type="application/json", **auth)
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    wrong_method = client.delete(f"{RZP}/orders", **auth)
    assert wrong_method.status_code == 405 and "error" in wrong_method.json()
