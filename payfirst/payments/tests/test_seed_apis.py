"""The seeds' payment names and fields (API.md, "Seed-compatible endpoints and fields"): the same services as
payfirst's own endpoints, the caller's own objects only, integer paise, the one error shape."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test.utils import override_settings
from rest_framework.test import APIClient

from conftest import client_for
from payfirst.accounts.models import Address
from payfirst.cart.models import Cart, CartStatus
from payfirst.fulfilment.models import Booking, Order
from payfirst.gateways.base import GatewayStatus
from payfirst.payments.models import Payment
from payfirst.payments.services import phonepe_return_url
from payfirst.payments.states import PaymentStatus
from payfirst.testing import factories

S = PaymentStatus
pytestmark = pytest.mark.django_db

CREATE = "/api/payments/create-from-cart/"
CONFIRM = "/api/payments/confirm-razorpay/"
CART_PAY = "/api/payments/cart/"
PROCESS = "/api/payments/process-cart/"
FRONTEND = "http://localhost:3000"


@pytest.fixture(autouse=True)
def merchant_front_end(settings):
    """The merchant's own front end, as the seeds' code runs on it (not payfirst's storefront)."""
    settings.FRONTEND_BASE_URL = FRONTEND
    settings.PHONEPE_SUCCESS_REDIRECT_URL = f"{FRONTEND}/confirmbooking/"
    settings.PHONEPE_FAILED_REDIRECT_URL = f"{FRONTEND}/failedbooking/"


SEED_ADDRESS = {
    "full_name": "Prince Kumar",
    "address_line_1": "Hanuman Bagh",
    "address_line_2": "Kiran Niwas",
    "city": "Purnia",
    "state": "Bihar",
    "postal_code": "854301",
    "country": "India",
}


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


@pytest.fixture
def product_cart(user, variant):
    cart = factories.active_cart(user)
    factories.add_product(cart, variant, 2)
    return cart


@pytest.fixture
def puja_cart(user, package, slot):
    cart = factories.active_cart(user)
    factories.add_service(cart, package, slot)
    return cart


# ---- create-from-cart with seed 000's body -----------------------------------------------------------------------


def test_seed_000_body_creates_a_razorpay_payment_with_the_seed_fields(auth_client, product_cart, fake_razorpay):
    body = {
        "payment_method": "razorpay",
        "shipping_address": SEED_ADDRESS,
        "billing_address": SEED_ADDRESS,
        "currency": "INR",
        "amount": 1,
    }
    response = auth_client.post(CREATE, body, format="json")
    assert response.status_code == 201, response.content
    payment = response.json()
    assert payment["gateway"] == "razorpay" and payment["amount"] == 99800  # the server's price, not the body's
    assert payment["razorpay_order_id"] == payment["gateway_order_id"] and payment["razorpay_order_id"]
    assert payment["cart_items_count"] == payment["items_count"] == 2
    [saved] = Address.objects.all()  # the same address twice is one address-book entry
    assert saved.phone == "+919876543210"  # the profile's phone
    stored = Payment.objects.get()
    assert (stored.shipping_address or {})["city"] == "Purnia" and stored.billing_address == stored.shipping_address


@pytest.mark.parametrize("method", ["RAZORPAY", "Razorpay", " razorpay "])
def test_payment_method_in_any_case(auth_client, product_cart, address, fake_razorpay, method):
    body = {"payment_method": method, "shipping_address_id": address.pk}
    assert auth_client.post(CREATE, body, format="json").json()["gateway"] == "razorpay"


def test_payment_method_for_phonepe_has_no_razorpay_order_id(auth_client, puja_cart, fake_phonepe):
    payment = auth_client.post(CREATE, {"payment_method": "PHONEPE"}, format="json").json()
    assert payment["gateway"] == "phonepe" and payment["razorpay_order_id"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "gateway"),
        ({"payment_method": "paytm"}, "payment_method"),
        ({"payment_method": 5}, "payment_method"),
        ({"payment_method": "razorpay", "gateway": "phonepe"}, "payment_method"),
        ({"payment_method": "razorpay", "currency": "USD"}, "currency"),
    ],
)
def test_bad_payment_method_or_currency_is_400(auth_client, product_cart, fake_razorpay, body, field):
    error = assert_error(auth_client.post(CREATE, body, format="json"), 400, "invalid_input")
    assert field in error["fields"]
    assert not Payment.objects.exists()


def test_an_inline_address_is_validated_like_an_address(auth_client, product_cart, fake_razorpay):
    bad = SEED_ADDRESS | {"postal_code": "054301", "phone": "12"}
    error = assert_error(
        auth_client.post(CREATE, {"payment_method": "razorpay", "shipping_address": bad}, format="json"),
        400,
        "invalid_input",
    )
    assert set(error["fields"]) == {"shipping_address.postal_code", "shipping_address.phone"}
    missing = {key: value for key, value in SEED_ADDRESS.items() if key != "city"}
    error = assert_error(
        auth_client.post(CREATE, {"payment_method": "razorpay", "billing_address": missing}, format="json"),
        400,
        "invalid_input",
    )
    assert set(error["fields"]) == {"billing_address.city"}
    assert not Address.objects.exists() and not Payment.objects.exists()


def test_an_inline_address_without_phone_and_no_phone_on_the_profile_is_a_clear_400(other_user, variant, fake_razorpay):
    factories.add_product(factories.active_cart(other_user), variant, 1)
    body = {"payment_method": "razorpay", "shipping_address": SEED_ADDRESS}
    error = assert_error(client_for(other_user).post(CREATE, body, format="json"), 400, "invalid_input")
    assert (
        set(error["fields"]) == {"shipping_address.phone"} and "profile" in error["fields"]["shipping_address.phone"][0]
    )


def test_an_inline_address_and_its_id_together_are_400(auth_client, product_cart, address, fake_razorpay):
    body = {"payment_method": "razorpay", "shipping_address": SEED_ADDRESS, "shipping_address_id": address.pk}
    assert (
        "shipping_address"
        in assert_error(auth_client.post(CREATE, body, format="json"), 400, "invalid_input")["fields"]
    )


def test_no_address_for_products_is_still_shipping_address_required(auth_client, product_cart, fake_razorpay):
    body = {"payment_method": "razorpay", "shipping_address": None}
    assert_error(auth_client.post(CREATE, body, format="json"), 400, "shipping_address_required")


def test_confirm_answers_order_id_and_booking_id(auth_client, user, variant, package, slot, address, fake_razorpay):
    cart = factories.active_cart(user)
    factories.add_product(cart, variant, 1)
    factories.add_service(cart, package, slot)
    body = {"payment_method": "razorpay", "shipping_address_id": address.pk}
    payment = auth_client.post(CREATE, body, format="json").json()
    fake_razorpay.settle(payment["razorpay_order_id"], GatewayStatus.PENDING)
    pending = auth_client.post(CONFIRM, fake_razorpay.checkout_fields(payment["razorpay_order_id"]), format="json")
    assert pending.json()["status"] == "pending"
    assert pending.json()["order_id"] is None and pending.json()["booking_id"] is None
    fake_razorpay.settle(payment["razorpay_order_id"])
    done = auth_client.post(CONFIRM, fake_razorpay.checkout_fields(payment["razorpay_order_id"]), format="json").json()
    assert done["status"] == "success"
    assert done["order_id"] == Order.objects.get().pk and done["booking_id"] == Booking.objects.get().book_id


def test_confirm_of_a_product_only_payment_has_no_booking_id(auth_client, product_cart, address, fake_razorpay):
    payment = auth_client.post(CREATE, {"gateway": "razorpay", "shipping_address_id": address.pk}, format="json").json()
    fake_razorpay.settle(payment["gateway_order_id"])
    done = auth_client.post(CONFIRM, fake_razorpay.checkout_fields(payment["gateway_order_id"]), format="json").json()
    assert isinstance(done["order_id"], int) and done["booking_id"] is None


# ---- POST /api/payments/cart/ (seed 002) ------------------------------------------------------------------------


def test_cart_payment_answers_the_seed_shape_in_paise(auth_client, puja_cart, fake_phonepe):
    body = {"cart_id": puja_cart.cart_id, "redirect_url": f"{FRONTEND}/confirmbooking"}
    response = auth_client.post(CART_PAY, body, format="json")
    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["success"] is True and answer["message"]
    order = answer["data"]["payment_order"]
    assert set(order) == {"id", "merchant_order_id", "amount", "cart_id", "status", "phonepe_payment_url", "created_at"}
    payment = Payment.objects.get()
    assert order["id"] == payment.pk and order["merchant_order_id"] == payment.reference
    assert order["amount"] == 250000 and isinstance(order["amount"], int)
    assert order["cart_id"] == puja_cart.cart_id and order["status"] == "PENDING"
    assert order["phonepe_payment_url"] == payment.checkout["redirect_url"] and order["created_at"]
    assert payment.gateway == "phonepe" and payment.redirect_url == f"{FRONTEND}/confirmbooking"


def test_cart_payment_by_numeric_id_and_again_returns_the_same_pending_payment(auth_client, puja_cart, fake_phonepe):
    first = auth_client.post(CART_PAY, {"cart_id": puja_cart.pk}, format="json")
    again = auth_client.post(CART_PAY, {"cart_id": str(puja_cart.pk)}, format="json")
    assert first.status_code == again.status_code == 201
    assert first.json()["data"]["payment_order"]["id"] == again.json()["data"]["payment_order"]["id"]
    assert Payment.objects.count() == 1


@override_settings(
    PHONEPE_SUCCESS_REDIRECT_URL=f"{FRONTEND}/confirmbooking/", PHONEPE_FAILED_REDIRECT_URL=f"{FRONTEND}/failedbooking/"
)
@pytest.mark.parametrize(
    ("outcome", "page", "status"),
    [(GatewayStatus.CAPTURED, "/confirmbooking/", "success"), (GatewayStatus.FAILED, "/failedbooking/", "failed")],
)
def test_without_redirect_url_the_browser_returns_to_the_configured_pages(
    auth_client, puja_cart, fake_phonepe, outcome, page, status
):
    order = auth_client.post(CART_PAY, {"cart_id": puja_cart.cart_id}, format="json").json()["data"]["payment_order"]
    fake_phonepe.settle(Payment.objects.get().gateway_order_id, outcome)
    response = APIClient().get(phonepe_return_url(payment=Payment.objects.get(pk=order["id"])))
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{FRONTEND}{page}"
    assert parse_qs(target.query) == {
        "payment_id": [str(order["id"])],
        "status": [status],
        "redirect_source": ["phonepe"],
    }


def test_cart_payment_of_another_users_cart_is_404(other_client, puja_cart, fake_phonepe):
    assert_error(other_client.post(CART_PAY, {"cart_id": puja_cart.cart_id}, format="json"), 404, "not_found")
    assert_error(other_client.post(CART_PAY, {"cart_id": puja_cart.pk}, format="json"), 404, "not_found")
    assert not Payment.objects.exists()


@pytest.mark.parametrize("cart_id", ["CART_NOPE", 0, -3, 10**30, "", None, True, [1], {"id": 1}, 1.5])
def test_cart_payment_with_a_bad_cart_id_is_400_or_404(auth_client, puja_cart, fake_phonepe, cart_id):
    response = auth_client.post(CART_PAY, {"cart_id": cart_id}, format="json")
    assert response.status_code in (400, 404), response.content
    assert response.json()["error"]["code"] in ("invalid_input", "not_found")
    assert not Payment.objects.exists()


def test_cart_payment_of_a_paid_cart_is_409(auth_client, user, puja_cart, fake_phonepe):
    Cart.objects.filter(pk=puja_cart.pk).update(status=CartStatus.CONVERTED)
    assert_error(auth_client.post(CART_PAY, {"cart_id": puja_cart.cart_id}, format="json"), 409, "invalid_state")


def test_cart_payment_of_an_empty_cart_is_cart_empty(auth_client, user, fake_phonepe):
    cart = factories.active_cart(user)
    assert_error(auth_client.post(CART_PAY, {"cart_id": cart.cart_id}, format="json"), 400, "cart_empty")


def test_cart_payment_refuses_a_foreign_redirect_url(auth_client, puja_cart, fake_phonepe):
    body = {"cart_id": puja_cart.cart_id, "redirect_url": "https://evil.example/confirmbooking"}
    assert_error(auth_client.post(CART_PAY, body, format="json"), 400, "invalid_redirect_url")


def test_cart_payment_honours_idempotency_keys(auth_client, puja_cart, fake_phonepe):
    headers = {"HTTP_IDEMPOTENCY_KEY": "seed-key-1"}
    first = auth_client.post(CART_PAY, {"cart_id": puja_cart.cart_id}, format="json", **headers)
    again = auth_client.post(CART_PAY, {"cart_id": puja_cart.cart_id}, format="json", **headers)
    assert first.json() == again.json() and again.status_code == 201
    other = auth_client.post(CART_PAY, {"cart_id": puja_cart.pk}, format="json", **headers)
    assert_error(other, 422, "idempotency_key_reused")


# ---- POST /api/payments/process-cart/ (seed 004) ----------------------------------------------------------------


def test_process_cart_phonepe_answers_the_seed_shape(auth_client, puja_cart, fake_phonepe):
    response = auth_client.post(PROCESS, {"cart_id": puja_cart.pk, "method": "PHONEPE"}, format="json")
    assert response.status_code == 201, response.content
    answer = response.json()
    payment = Payment.objects.get()
    assert answer == {
        "success": True,
        "payment_id": payment.pk,
        "payment_url": payment.checkout["redirect_url"],
        "amount": 250000,
        "status": "PENDING",
    }
    booking = auth_client.get(f"/api/payments/{payment.pk}/check-booking/").json()
    assert booking["payment_status"] == "PENDING" and booking["booking_created"] is False


def test_process_cart_razorpay_has_no_url_and_the_checkout_block(auth_client, puja_cart, fake_razorpay):
    answer = auth_client.post(PROCESS, {"cart_id": puja_cart.cart_id, "method": "razorpay"}, format="json").json()
    payment = Payment.objects.get()
    assert answer["payment_url"] is None and answer["checkout"] == payment.checkout and answer["amount"] == 250000


@pytest.mark.parametrize("method", ["PAYTM", "", None, 3])
def test_process_cart_with_a_bad_method_is_400(auth_client, puja_cart, method):
    error = assert_error(
        auth_client.post(PROCESS, {"cart_id": puja_cart.pk, "method": method}, format="json"), 400, "invalid_input"
    )
    assert set(error["fields"]) == {"method"}


def test_process_cart_of_another_users_cart_is_404(other_client, puja_cart, fake_phonepe):
    assert_error(
        other_client.post(PROCESS, {"cart_id": puja_cart.pk, "method": "PHONEPE"}, format="json"), 404, "not_found"
    )


def test_the_seed_payment_endpoints_need_a_signed_in_user(api_client, puja_cart):
    assert_error(api_client.post(CART_PAY, {"cart_id": puja_cart.cart_id}, format="json"), 401, "not_authenticated")
    assert_error(api_client.post(PROCESS, {"cart_id": puja_cart.pk}, format="json"), 401, "not_authenticated")
    assert_error(api_client.get("/api/payments/status/PF1/"), 401, "not_authenticated")


def test_the_payment_detail_routes_still_answer_for_numeric_ids(auth_client, puja_cart, fake_phonepe):
    payment_id = auth_client.post(PROCESS, {"cart_id": puja_cart.pk, "method": "PHONEPE"}, format="json").json()[
        "payment_id"
    ]
    assert auth_client.get(f"/api/payments/{payment_id}/").json()["id"] == payment_id
    assert_error(auth_client.get("/api/payments/cart/"), 405, "method_not_allowed")


# ---- GET /api/payments/status/{merchant_order_id}/ --------------------------------------------------------------


def test_status_by_merchant_order_id_answers_as_cart_status(auth_client, puja_cart, fake_phonepe):
    order = auth_client.post(CART_PAY, {"cart_id": puja_cart.cart_id}, format="json").json()["data"]["payment_order"]
    pending = auth_client.get(f"/api/payments/status/{order['merchant_order_id']}/").json()
    assert pending["success"] is True and pending["data"]["payment_status"] == "PENDING"
    fake_phonepe.settle(Payment.objects.get().gateway_order_id)
    APIClient().get(phonepe_return_url(payment=Payment.objects.get(pk=order["id"])))
    done = auth_client.get(f"/api/payments/status/{order['merchant_order_id']}/").json()
    assert done == auth_client.get(f"/api/payments/cart/status/{puja_cart.cart_id}/").json()
    data = done["data"]
    assert data["payment_status"] == "SUCCESS" and data["booking_created"] is True
    assert data["booking_id"] == Booking.objects.get().book_id and data["payment_amount"] == 250000
    assert data["cart_status"] == "CONVERTED" and data["payment_completed_at"]


def test_status_by_razorpay_order_id(auth_client, puja_cart, fake_razorpay):
    payment = auth_client.post(CREATE, {"payment_method": "razorpay"}, format="json").json()
    answer = auth_client.get(f"/api/payments/status/{payment['razorpay_order_id']}/").json()
    assert answer["data"]["merchant_order_id"] == Payment.objects.get().reference


@pytest.mark.parametrize("reference", ["PFNOPE", "x" * 65, "1"])
def test_status_of_an_unknown_order_is_404(auth_client, reference):
    assert_error(auth_client.get(f"/api/payments/status/{reference}/"), 404, "not_found")


def test_status_of_another_users_payment_is_404(other_client, auth_client, puja_cart, fake_phonepe):
    order = auth_client.post(CART_PAY, {"cart_id": puja_cart.cart_id}, format="json").json()["data"]["payment_order"]
    assert_error(other_client.get(f"/api/payments/status/{order['merchant_order_id']}/"), 404, "not_found")
