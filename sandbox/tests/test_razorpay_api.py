"""Razorpay endpoints beyond what the SDK test walks through: notes, listing and paging, receipt reuse, capture mode."""

from __future__ import annotations

import base64

import pytest

from sandbox.models import RazorpayRefund

pytestmark = pytest.mark.django_db

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


def test_refund_receipt_reuse_with_another_amount_is_refused(client, auth, quick_settle):
    order = create(client, auth).json()
    pay_id = client.post(
        f"/sandbox/razorpay/checkout/{order['id']}/pay", {"outcome": "success"}, content_type="application/json"
    ).json()["razorpay_payment_id"]
    first = client.post(
        f"{RZP}/payments/{pay_id}/refund", {"amount": 1000, "receipt": "R"}, content_type="application/json", **auth
    )
    assert first.status_code == 200
    same = client.post(f"{RZP}/payments/{pay_id}/refund", {"receipt": "R"}, content_type="application/json", **auth)
    assert same.json()["id"] == first.json()["id"]
    other = client.post(
        f"{RZP}/payments/{pay_id}/refund", {"amount": 2000, "receipt": "R"}, content_type="application/json", **auth
    )
    assert other.status_code == 400 and other.json()["error"]["field"] == "receipt"
    assert RazorpayRefund.objects.count() == 1
    wrong_payment = client.get(f"{RZP}/payments/pay_00000000000000/refunds/{first.json()['id']}", **auth)
    assert wrong_payment.status_code == 400


def test_payment_capture_flag_and_bad_json(client, auth):
    assert create(client, auth, payment_capture="sometimes").status_code == 400
    broken = client.post(f"{RZP}/orders", "{not json", content_type="application/json", **auth)
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    wrong_method = client.delete(f"{RZP}/orders", **auth)
    assert wrong_method.status_code == 405 and "error" in wrong_method.json()
