"""Seed 002's cart endpoints: /api/cart/carts/ makes the one active cart hold exactly one booking."""

from __future__ import annotations

from datetime import time

import pytest

from conftest import client_for
from payfirst.cart.models import Cart, CartItem, CartStatus
from payfirst.testing.factories import make_package, make_promo, make_service, make_slot, make_variant

pytestmark = pytest.mark.django_db

CARTS = "/api/cart/carts/"


@pytest.fixture
def puja(db):
    service = make_service(name="Satyanarayan Puja")
    package = make_package(service=service, price=99900)
    slot = make_slot(service=service, at=time(10, 0), capacity=3)
    return service, package, slot


def seed_body(puja, **changes):
    service, package, slot = puja
    body = {
        "service_type": "PUJA",
        "puja_service": service.pk,
        "package": package.pk,
        "selected_date": slot.date.isoformat(),
        "selected_time": "10:00 AM",
        "promo_code": None,
    }
    return body | changes


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


def test_seed_body_creates_the_cart_with_one_booking_priced_by_the_server(auth_client, puja):
    service, package, slot = puja
    response = auth_client.post(CARTS, seed_body(puja) | {"total_price": 1, "price": 1}, format="json")
    assert response.status_code == 201, response.content
    cart = response.json()
    assert cart["cart_id"].startswith("CART_") and cart["status"] == "ACTIVE" and cart["total"] == 99900
    [line] = cart["items"]
    assert line["kind"] == "service" and line["package_id"] == package.pk
    assert line["selected_date"] == slot.date.isoformat() and line["selected_time"] == "10:00"


@pytest.mark.parametrize("sent", ["10:00", "10:00:00", "10:00 AM", "10:00 am", "10:00AM", " 10:00  AM "])
def test_24_hour_and_12_hour_times_are_accepted(auth_client, puja, sent):
    response = auth_client.post(CARTS, seed_body(puja, selected_time=sent), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["items"][0]["selected_time"] == "10:00"


def test_an_afternoon_time_in_12_hour_form_is_the_afternoon_slot(auth_client, puja):
    service, package, _ = puja
    afternoon = make_slot(service=service, at=time(13, 30))
    body = seed_body(puja, selected_date=afternoon.date.isoformat(), selected_time="1:30 PM")
    assert auth_client.post(CARTS, body, format="json").json()["items"][0]["selected_time"] == "13:30"


@pytest.mark.parametrize("sent", ["13:00 PM", "25:00", "10:60", "ten", "10", "", None, 1000, "10:00 XM", "1" * 40])
def test_bad_times_are_400_on_selected_time(auth_client, puja, sent):
    error = assert_error(
        auth_client.post(CARTS, seed_body(puja, selected_time=sent), format="json"), 400, "invalid_input"
    )
    assert set(error["fields"]) == {"selected_time"}
    assert not CartItem.objects.exists()


def test_a_time_with_no_slot_is_slot_not_available(auth_client, puja):
    assert_error(
        auth_client.post(CARTS, seed_body(puja, selected_time="11:00 AM"), format="json"), 400, "slot_not_available"
    )


def test_puja_service_and_service_type_are_checked_against_the_package(auth_client, puja):
    other_service = make_service(name="Ganesh Homam")
    error = assert_error(
        auth_client.post(CARTS, seed_body(puja, puja_service=other_service.pk), format="json"), 400, "invalid_input"
    )
    assert set(error["fields"]) == {"puja_service"}
    error = assert_error(
        auth_client.post(CARTS, seed_body(puja, service_type="CONSULTATION"), format="json"), 400, "invalid_input"
    )
    assert set(error["fields"]) == {"service_type"}
    assert not CartItem.objects.exists()


def test_service_type_any_case_and_both_checks_optional(auth_client, puja):
    body = seed_body(puja, service_type="puja")
    assert auth_client.post(CARTS, body, format="json").status_code == 201
    body = seed_body(puja)
    del body["service_type"], body["puja_service"]
    assert auth_client.post(CARTS, body, format="json").status_code == 201


def test_an_unknown_package_is_404(auth_client, puja):
    assert_error(auth_client.post(CARTS, seed_body(puja, package=999999), format="json"), 404, "not_found")


def test_a_second_booking_replaces_the_first_so_one_payment_never_holds_both(auth_client, user, puja):
    service, package, slot = puja
    auth_client.post("/api/cart/add/", {"variant_id": make_variant().pk, "quantity": 1}, format="json")
    first = auth_client.post(CARTS, seed_body(puja), format="json").json()
    later = make_slot(service=service, at=time(17, 0))
    second = auth_client.post(
        CARTS, seed_body(puja, selected_date=later.date.isoformat(), selected_time="5:00 PM"), format="json"
    ).json()
    assert second["cart_id"] == first["cart_id"]  # one active cart per customer
    assert [(line["kind"], line["selected_time"]) for line in second["items"]] == [("service", "17:00")]
    assert Cart.objects.filter(user=user, status=CartStatus.ACTIVE).count() == 1


def test_a_failed_create_leaves_the_earlier_cart_as_it_was(auth_client, puja):
    first = auth_client.post(CARTS, seed_body(puja), format="json").json()
    assert_error(
        auth_client.post(CARTS, seed_body(puja, promo_code="NOSUCHCODE"), format="json"), 400, "invalid_promo_code"
    )
    assert auth_client.get("/api/cart/").json()["items"] == first["items"]


def test_a_promo_code_is_applied(auth_client, puja):
    make_promo(code="DIWALI10", percent_bp=1000)
    cart = auth_client.post(CARTS, seed_body(puja, promo_code="diwali10"), format="json").json()
    assert cart["promo_code"] == "DIWALI10" and cart["discount"] == 9990 and cart["total"] == 89910
    assert auth_client.post(CARTS, seed_body(puja, promo_code=""), format="json").json()["promo_code"] is None


def test_a_full_slot_is_409(auth_client, puja):
    service, package, _ = puja
    full = make_slot(service=service, at=time(7, 0), capacity=1, taken=1)
    body = seed_body(puja, selected_date=full.date.isoformat(), selected_time="7:00 AM")
    assert_error(auth_client.post(CARTS, body, format="json"), 409, "slot_full")


def test_list_has_the_callers_active_cart_only(auth_client, other_client, puja):
    other_client.post(CARTS, seed_body(puja), format="json")
    mine = auth_client.post(CARTS, seed_body(puja), format="json").json()
    listed = auth_client.get(CARTS).json()
    assert listed["count"] == 1 and listed["next"] is None and listed["previous"] is None
    assert listed["results"] == [mine]


def test_delete_empties_the_callers_cart_by_cart_id_or_id(auth_client, puja):
    cart = auth_client.post(CARTS, seed_body(puja), format="json").json()
    response = auth_client.delete(f"{CARTS}{cart['cart_id']}/")
    assert response.status_code == 200 and response.json()["items"] == [] and response.json()["status"] == "ACTIVE"
    auth_client.post(CARTS, seed_body(puja), format="json")
    assert auth_client.delete(f"{CARTS}{cart['id']}/").json()["items"] == []


@pytest.mark.parametrize("reference", ["CART_NOPE", "0", "99999999", "-1", "x" * 41, "99999999999999999999999"])
def test_delete_of_an_unknown_cart_is_404(auth_client, reference):
    assert_error(auth_client.delete(f"{CARTS}{reference}/"), 404, "not_found")


def test_delete_of_another_users_cart_is_404_and_leaves_it(auth_client, other_user, puja):
    other = client_for(other_user)
    theirs = other.post(CARTS, seed_body(puja), format="json").json()
    assert_error(auth_client.delete(f"{CARTS}{theirs['cart_id']}/"), 404, "not_found")
    assert_error(auth_client.delete(f"{CARTS}{theirs['id']}/"), 404, "not_found")
    assert len(other.get("/api/cart/").json()["items"]) == 1


def test_delete_of_a_paid_cart_is_409(auth_client, user, puja):
    cart = auth_client.post(CARTS, seed_body(puja), format="json").json()
    Cart.objects.filter(pk=cart["id"]).update(status=CartStatus.CONVERTED)
    assert_error(auth_client.delete(f"{CARTS}{cart['cart_id']}/"), 409, "invalid_state")
    assert CartItem.objects.filter(cart_id=cart["id"]).count() == 1


def test_the_seed_endpoints_need_a_signed_in_user(api_client, puja):
    assert_error(api_client.post(CARTS, seed_body(puja), format="json"), 401, "not_authenticated")
    assert_error(api_client.get(CARTS), 401, "not_authenticated")
    assert_error(api_client.delete(f"{CARTS}CART_X/"), 401, "not_authenticated")
