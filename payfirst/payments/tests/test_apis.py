"""The payments HTTP API against API.md: shapes, status codes, error codes, ownership, idempotency keys."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from conftest import client_for
from payfirst.catalog.models import Variant
from payfirst.fulfilment.models import Booking
from payfirst.gateways.base import GatewayStatus, GatewayUnavailable
from payfirst.payments.idempotency import request_fingerprint
from payfirst.payments.models import IdempotencyRecord, IdempotencyState, Payment
from payfirst.payments.states import PaymentStatus
from payfirst.testing import factories

S = PaymentStatus
pytestmark = pytest.mark.django_db

CREATE = "/api/payments/create-from-cart/"
CONFIRM = "/api/payments/confirm-razorpay/"
PAYMENT_KEYS = {
    "id",
    "status",
    "amount",
    "currency",
    "gateway",
    "gateway_order_id",
    "cart_id",
    "items_count",
    "razorpay_order_id",
    "cart_items_count",
    "created_at",
    "expires_at",
    "captured_at",
    "refunded_amount",
    "fulfilments",
    "checkout",
}


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]


@pytest.fixture
def created(auth_client, address, mixed_cart, fake_razorpay):
    response = auth_client.post(CREATE, {"gateway": "razorpay", "shipping_address_id": address.pk}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


# ---- create-from-cart ------------------------------------------------------------------------------------------


def test_create_from_cart_answers_201_with_the_payment_shape(created, mixed_cart, fake_razorpay):
    assert set(created) == PAYMENT_KEYS
    assert created["status"] == "PENDING" and created["amount"] == 449700 and created["currency"] == "INR"
    assert created["cart_id"] == mixed_cart.cart_id and created["items_count"] == 4
    assert created["fulfilments"] == [] and created["captured_at"] is None and created["refunded_amount"] == 0
    assert created["checkout"]["order_id"] == created["gateway_order_id"]
    assert "secret" not in str(created["checkout"]).lower()


def test_create_from_cart_ignores_a_client_sent_amount(auth_client, address, mixed_cart, fake_razorpay):
    response = auth_client.post(
        CREATE, {"gateway": "razorpay", "shipping_address_id": address.pk, "amount": 100, "total": 1}, format="json"
    )
    assert response.status_code == 201 and response.json()["amount"] == 449700
    assert fake_razorpay.orders[response.json()["gateway_order_id"]].amount.value == 449700


def test_create_from_cart_again_with_the_same_cart_answers_200_with_the_same_payment(auth_client, address, created):
    again = auth_client.post(CREATE, {"gateway": "razorpay", "shipping_address_id": address.pk}, format="json")
    assert again.status_code == 200 and again.json()["id"] == created["id"]


@pytest.mark.parametrize(
    "body,status,code",
    [
        ({"gateway": "paypal"}, 400, "invalid_input"),
        ({}, 400, "invalid_input"),
        ({"gateway": "razorpay"}, 400, "shipping_address_required"),
        ({"gateway": "razorpay", "shipping_address_id": 999999}, 404, "not_found"),
        ({"gateway": "razorpay", "shipping_address_id": "x"}, 400, "invalid_input"),
        ({"gateway": "razorpay", "redirect_url": "https://evil.example.com/"}, 400, "invalid_redirect_url"),
    ],
)
def test_create_from_cart_errors(auth_client, mixed_cart, fake_razorpay, body, status, code):
    assert_error(auth_client.post(CREATE, body, format="json"), status, code)
    assert not Payment.objects.exists()


def test_create_from_cart_of_an_empty_cart(auth_client, fake_razorpay):
    assert_error(auth_client.post(CREATE, {"gateway": "razorpay"}, format="json"), 400, "cart_empty")


def test_create_from_cart_with_too_little_stock_is_409_before_paying(
    auth_client, user, address, variant, fake_razorpay
):
    factories.add_product(factories.active_cart(user), variant, 5)
    Variant.objects.filter(pk=variant.pk).update(stock_on_hand=4)
    response = auth_client.post(CREATE, {"gateway": "razorpay", "shipping_address_id": address.pk}, format="json")
    assert_error(response, 409, "insufficient_stock")
    assert fake_razorpay.calls["create_order"] == 0


def test_create_from_cart_with_another_users_address_is_404(other_client, other_user, address, variant, fake_razorpay):
    factories.add_product(factories.active_cart(other_user), variant, 1)
    response = other_client.post(CREATE, {"gateway": "razorpay", "shipping_address_id": address.pk}, format="json")
    assert_error(response, 404, "not_found")


def test_create_from_cart_gateway_error_is_502_and_leaves_nothing_reserved(
    auth_client, address, mixed_cart, variant, fake_razorpay
):
    fake_razorpay.fail_next("create_order", GatewayUnavailable("timeout"))
    body = {"gateway": "razorpay", "shipping_address_id": address.pk}
    assert_error(auth_client.post(CREATE, body, format="json"), 502, "gateway_error")
    variant.refresh_from_db()
    assert variant.reserved == 0
    assert auth_client.post(CREATE, body, format="json").status_code == 201


def test_create_from_cart_needs_sign_in(api_client, fake_razorpay):
    assert_error(api_client.post(CREATE, {"gateway": "razorpay"}, format="json"), 401, "not_authenticated")


# ---- Idempotency-Key -------------------------------------------------------------------------------------------


def test_idempotency_key_replays_the_first_response(auth_client, address, mixed_cart, fake_razorpay):
    body = {"gateway": "razorpay", "shipping_address_id": address.pk}
    first = auth_client.post(CREATE, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    mixed_cart.items.filter(kind="product").update(quantity=1)  # would supersede, were it not a replay
    replay = auth_client.post(
        CREATE, {"shipping_address_id": address.pk, "gateway": "razorpay"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert (replay.status_code, replay.json()) == (first.status_code, first.json()) == (201, first.json())
    assert replay["Idempotent-Replayed"] == "true"
    assert Payment.objects.count() == 1 and fake_razorpay.calls["create_order"] == 1


def test_idempotency_key_with_another_body_is_422(auth_client, address, mixed_cart, fake_razorpay):
    auth_client.post(
        CREATE, {"gateway": "razorpay", "shipping_address_id": address.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k-2"
    )
    other = auth_client.post(
        CREATE, {"gateway": "phonepe", "shipping_address_id": address.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k-2"
    )
    assert_error(other, 422, "idempotency_key_reused")


def test_idempotency_key_while_the_first_request_runs_is_409(auth_client, user, address, mixed_cart, fake_razorpay):
    body = {"gateway": "razorpay", "shipping_address_id": address.pk}
    running = Request(APIRequestFactory().post(CREATE, body, format="json"), parsers=[JSONParser()])
    IdempotencyRecord.objects.create(user=user, key="k-3", fingerprint=request_fingerprint(running))
    assert_error(
        auth_client.post(CREATE, body, format="json", HTTP_IDEMPOTENCY_KEY="k-3"), 409, "idempotency_key_in_use"
    )
    assert not Payment.objects.exists()


def test_idempotency_key_is_per_user(auth_client, other_client, other_user, address, mixed_cart, plan, fake_razorpay):
    auth_client.post(
        CREATE, {"gateway": "razorpay", "shipping_address_id": address.pk}, format="json", HTTP_IDEMPOTENCY_KEY="shared"
    )
    factories.add_plan(factories.active_cart(other_user), plan)
    # Another user's "shared" key is their own: a fresh request, not a reuse with another body.
    theirs = other_client.post(CREATE, {"gateway": "razorpay"}, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    assert theirs.status_code == 201 and theirs.json()["amount"] == plan.price


def test_idempotency_key_after_a_gateway_error_runs_again(auth_client, address, mixed_cart, fake_razorpay):
    body = {"gateway": "razorpay", "shipping_address_id": address.pk}
    fake_razorpay.fail_next("create_order", GatewayUnavailable("timeout"))
    assert auth_client.post(CREATE, body, format="json", HTTP_IDEMPOTENCY_KEY="k-4").status_code == 502
    retry = auth_client.post(CREATE, body, format="json", HTTP_IDEMPOTENCY_KEY="k-4")
    assert retry.status_code == 201
    assert IdempotencyRecord.objects.get(key="k-4").state == IdempotencyState.DONE


def test_idempotency_key_replays_a_validation_error_too(auth_client, mixed_cart, fake_razorpay):
    first = auth_client.post(CREATE, {"gateway": "paypal"}, format="json", HTTP_IDEMPOTENCY_KEY="k-5")
    again = auth_client.post(CREATE, {"gateway": "paypal"}, format="json", HTTP_IDEMPOTENCY_KEY="k-5")
    assert first.status_code == again.status_code == 400 and first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"


def test_idempotency_key_of_more_than_255_characters_is_invalid(auth_client, mixed_cart, fake_razorpay):
    response = auth_client.post(CREATE, {"gateway": "razorpay"}, format="json", HTTP_IDEMPOTENCY_KEY="x" * 256)
    assert_error(response, 400, "invalid_input")


# ---- confirm-razorpay ------------------------------------------------------------------------------------------


def test_confirm_razorpay_with_a_valid_signature_captures_and_fulfils(auth_client, created, fake_razorpay):
    fake_razorpay.settle(created["gateway_order_id"])
    response = auth_client.post(CONFIRM, fake_razorpay.checkout_fields(created["gateway_order_id"]), format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success" and set(body["payment"]) == PAYMENT_KEYS
    assert body["payment"]["status"] == "CAPTURED" and body["payment"]["captured_at"]
    assert sorted(ref["type"] for ref in body["payment"]["fulfilments"]) == ["booking", "order", "subscription"]
    again = auth_client.post(CONFIRM, fake_razorpay.checkout_fields(created["gateway_order_id"]), format="json")
    assert again.json()["status"] == "success" and Booking.objects.count() == 1


def test_confirm_razorpay_with_a_tampered_signature_is_400_and_changes_nothing(auth_client, created, fake_razorpay):
    fake_razorpay.settle(created["gateway_order_id"])
    fields = fake_razorpay.checkout_fields(created["gateway_order_id"])
    fields["razorpay_signature"] = fields["razorpay_signature"][:-1] + (
        "0" if fields["razorpay_signature"][-1] != "0" else "1"
    )
    assert_error(auth_client.post(CONFIRM, fields, format="json"), 400, "invalid_signature")
    fields = fake_razorpay.checkout_fields(created["gateway_order_id"]) | {"razorpay_payment_id": "fpay_other"}
    assert_error(auth_client.post(CONFIRM, fields, format="json"), 400, "invalid_signature")
    assert Payment.objects.get().status == S.PENDING and fake_razorpay.calls["fetch_payment"] == 0


def test_confirm_razorpay_before_the_money_arrives_is_pending_and_after_a_failure_failed(
    auth_client, created, fake_razorpay
):
    fake_razorpay.settle(created["gateway_order_id"], GatewayStatus.PENDING)  # authorized, not captured yet
    fields = fake_razorpay.checkout_fields(created["gateway_order_id"])
    assert auth_client.post(CONFIRM, fields, format="json").json()["status"] == "pending"
    fake_razorpay.settle(created["gateway_order_id"], GatewayStatus.FAILED)
    fields = fake_razorpay.checkout_fields(created["gateway_order_id"])
    body = auth_client.post(CONFIRM, fields, format="json").json()
    assert body["status"] == "failed" and body["payment"]["status"] == "FAILED"


def test_confirm_razorpay_for_another_users_payment_is_404(other_client, created, fake_razorpay):
    fake_razorpay.settle(created["gateway_order_id"])
    response = other_client.post(CONFIRM, fake_razorpay.checkout_fields(created["gateway_order_id"]), format="json")
    assert_error(response, 404, "not_found")
    assert Payment.objects.get().status == S.PENDING


def test_confirm_razorpay_gateway_down_is_502(auth_client, created, fake_razorpay):
    fake_razorpay.settle(created["gateway_order_id"])
    fake_razorpay.fail_next("fetch_payment", GatewayUnavailable("down"))
    response = auth_client.post(CONFIRM, fake_razorpay.checkout_fields(created["gateway_order_id"]), format="json")
    assert_error(response, 502, "gateway_error")


def test_confirm_razorpay_needs_its_three_fields(auth_client, fake_razorpay):
    assert_error(auth_client.post(CONFIRM, {"razorpay_order_id": "x"}, format="json"), 400, "invalid_input")


# ---- reading ---------------------------------------------------------------------------------------------------


def test_payment_detail_own_other_staff_and_nonsense(auth_client, other_client, staff_client, created):
    url = f"/api/payments/{created['id']}/"
    assert auth_client.get(url).json() == created
    assert_error(other_client.get(url), 404, "not_found")
    assert staff_client.get(url).status_code == 200
    assert_error(auth_client.get("/api/payments/999999/"), 404, "not_found")
    assert_error(auth_client.get("/api/payments/abc/"), 404, "not_found")
    assert_error(auth_client.get(f"/api/payments/{2**70}/"), 404, "not_found")


def test_payment_list_shows_only_own_payments_and_staff_all(auth_client, other_client, staff_client, created):
    body = auth_client.get("/api/payments/").json()
    assert set(body) == {"count", "next", "previous", "results"} and body["count"] == 1
    assert body["results"][0]["id"] == created["id"]
    assert other_client.get("/api/payments/").json()["count"] == 0
    assert staff_client.get("/api/payments/").json()["count"] == 1


def _list_queries(client: APIClient) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/payments/").status_code == 200
    return len(queries)


def test_payment_list_and_detail_run_a_constant_number_of_queries(user, auth_client, fake_razorpay):
    factories.make_bare_payment(user=user)
    one = _list_queries(auth_client)
    for _ in range(6):
        factories.make_bare_payment(user=user)
    assert _list_queries(auth_client) == one


def test_cancel_payment_then_again_is_409_and_others_404(auth_client, other_client, created, variant):
    url = f"/api/payments/{created['id']}/cancel/"
    assert_error(other_client.post(url), 404, "not_found")
    response = auth_client.post(url)
    assert response.status_code == 200 and response.json()["status"] == "CANCELLED"
    variant.refresh_from_db()
    assert variant.reserved == 0
    assert_error(auth_client.post(url), 409, "invalid_state")


def test_check_booking_before_and_after_capture(auth_client, other_client, created, fake_razorpay):
    url = f"/api/payments/{created['id']}/check-booking/"
    assert auth_client.get(url).json() == {
        "success": True,
        "payment_status": "PENDING",
        "booking_created": False,
        "booking": None,
    }
    fake_razorpay.settle(created["gateway_order_id"])
    auth_client.post(CONFIRM, fake_razorpay.checkout_fields(created["gateway_order_id"]), format="json")
    body = auth_client.get(url).json()
    booking = Booking.objects.get()
    assert body == {
        "success": True,
        "payment_status": "SUCCESS",
        "booking_created": True,
        "booking": {"book_id": booking.book_id, "status": booking.status, "total": 250000},
    }
    assert_error(other_client.get(url), 404, "not_found")


def test_cart_status_follows_the_payment(auth_client, other_client, created, mixed_cart, fake_razorpay):
    url = f"/api/payments/cart/status/{mixed_cart.cart_id}/"
    data = auth_client.get(url).json()["data"]
    assert data["payment_status"] == "PENDING" and data["cart_status"] == "ACTIVE"
    assert data["payment_amount"] == 449700 and data["booking_created"] is False and data["booking_id"] is None
    fake_razorpay.settle(created["gateway_order_id"])
    auth_client.post(CONFIRM, fake_razorpay.checkout_fields(created["gateway_order_id"]), format="json")
    body = auth_client.get(url).json()
    assert body["success"] is True
    assert set(body["data"]) == {
        "cart_id",
        "payment_status",
        "payment_amount",
        "merchant_order_id",
        "booking_created",
        "booking_id",
        "cart_status",
        "payment_created_at",
        "payment_completed_at",
    }
    data = body["data"]
    assert data["payment_status"] == "SUCCESS" and data["cart_status"] == "CONVERTED"
    assert data["booking_created"] is True and data["booking_id"].startswith("BK-")
    assert data["merchant_order_id"] == Payment.objects.get().reference and data["payment_completed_at"]
    assert_error(other_client.get(url), 404, "not_found")


def test_cart_status_without_a_payment_is_not_started(auth_client, user):
    cart = factories.active_cart(user)
    data = auth_client.get(f"/api/payments/cart/status/{cart.cart_id}/").json()["data"]
    assert data["payment_status"] == "NOT_STARTED" and data["payment_amount"] is None


# ---- the PhonePe redirect --------------------------------------------------------------------------------------


@override_settings(FRONTEND_BASE_URL="http://localhost:3000")
def test_phonepe_redirect_asks_phonepe_then_redirects_with_the_status(user, package, slot, fake_phonepe):
    factories.add_service(factories.active_cart(user), package, slot)
    client = client_for(user)
    payment = client.post(
        CREATE, {"gateway": "phonepe", "redirect_url": "http://localhost:3000/confirm?from=pp"}, format="json"
    ).json()
    fake_phonepe.settle(payment["gateway_order_id"])
    response = APIClient().get(return_url(fake_phonepe, payment))  # public: the URL PhonePe was given
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert target.netloc == "localhost:3000" and target.path == "/confirm"
    assert parse_qs(target.query) == {
        "from": ["pp"],
        "payment_id": [str(payment["id"])],
        "status": ["success"],
        "redirect_source": ["phonepe"],
    }
    assert Payment.objects.get().status == S.CAPTURED and Booking.objects.count() == 1
    last_event = Payment.objects.get().events.last()
    assert last_event is not None and last_event.source == "redirect"


def test_phonepe_redirect_without_redirect_url_answers_json(user, package, slot, fake_phonepe):
    factories.add_service(factories.active_cart(user), package, slot)
    payment = client_for(user).post(CREATE, {"gateway": "phonepe"}, format="json").json()
    response = APIClient().get(return_url(fake_phonepe, payment))
    assert response.status_code == 200 and response.json() == {"payment_id": payment["id"], "status": "pending"}


def return_url(fake, payment: dict) -> str:
    """The return URL payfirst gave PhonePe for the payment (path and query, as the browser comes back to it)."""
    given = urlsplit(fake.orders[payment["gateway_order_id"]].redirect_url)
    assert given.path == "/api/payments/redirect/phonepe/"
    return f"{given.path}?{given.query}"


def test_phonepe_redirect_without_the_right_token_reveals_nothing(user, package, slot, fake_phonepe):
    factories.add_service(factories.active_cart(user), package, slot)
    payment = client_for(user).post(CREATE, {"gateway": "phonepe"}, format="json").json()
    fake_phonepe.settle(payment["gateway_order_id"])
    token = parse_qs(urlsplit(return_url(fake_phonepe, payment)).query)["token"][0]
    assert len(token) >= 32
    base = f"/api/payments/redirect/phonepe/?payment_id={payment['id']}"
    for query in ("", "&token=", f"&token={token[:-1]}x", f"&token={token.upper()}", "&token=" + "0" * len(token)):
        response = APIClient().get(base + query)
        assert_error(response, 404, "not_found")
        assert response.json() == APIClient().get("/api/payments/redirect/phonepe/?payment_id=999999").json()
    assert fake_phonepe.calls["fetch_payment"] == 0 and Payment.objects.get().status == S.PENDING
    assert APIClient().get(f"{base}&token={token}").json()["status"] == "success"


@pytest.mark.parametrize("query", ["?payment_id=999999", "?payment_id=abc", "", "?payment_id=-1"])
def test_phonepe_redirect_for_an_unknown_payment_is_404_json(query):
    assert_error(APIClient().get(f"/api/payments/redirect/phonepe/{query}"), 404, "not_found")


def test_phonepe_redirect_for_a_razorpay_payment_is_404(created):
    assert_error(APIClient().get(f"/api/payments/redirect/phonepe/?payment_id={created['id']}"), 404, "not_found")


def test_schema_describes_the_payments_endpoints(api_client):
    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/payments/create-from-cart/",
        "/api/payments/confirm-razorpay/",
        "/api/payments/",
        "/api/payments/{payment_id}/",
        "/api/payments/{payment_id}/cancel/",
        "/api/payments/{payment_id}/check-booking/",
        "/api/payments/cart/status/{cart_id}/",
        "/api/payments/redirect/phonepe/",
        "/api/payments/callback/razorpay/",
        "/api/payments/webhook/razorpay/",
        "/api/payments/webhook/phonepe/",
    ):
        assert path in paths, path
    create = paths["/api/payments/create-from-cart/"]["post"]
    assert {"201", "200", "400", "409", "422", "502"} <= set(create["responses"])


def test_phonepe_redirect_is_throttled_per_client(settings):
    from django.core.cache import cache

    cache.clear()
    for _ in range(60):
        assert APIClient().get("/api/payments/redirect/phonepe/?payment_id=999999").status_code == 404
    throttled = APIClient().get("/api/payments/redirect/phonepe/?payment_id=999999")
    assert_error(throttled, 429, "throttled")
    assert int(throttled["Retry-After"]) >= 1
    cache.clear()
