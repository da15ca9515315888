"""Orders, bookings and subscriptions over HTTP: the API.md shapes, own objects only, paginated, constant queries."""

from __future__ import annotations

from datetime import datetime, time

import pytest
from django.urls import include, path
from drf_spectacular.generators import SchemaGenerator

from conftest import client_for
from payfirst.fulfilment.models import Booking, Order, Subscription
from payfirst.payments.handover import fulfil
from payfirst.testing.factories import (
    ADDRESS,
    make_captured_payment,
    make_package,
    make_plan,
    make_slot,
    make_variant,
    plan_line,
    product_line,
    service_line,
)

pytestmark = pytest.mark.django_db

ORDER_KEYS = {
    "id",
    "order_number",
    "status",
    "items",
    "subtotal",
    "discount",
    "total",
    "shipping_address",
    "billing_address",
    "payment_id",
    "created_at",
}
ITEM_KEYS = {"variant_id", "name", "sku", "quantity", "unit_price", "line_total"}
BOOKING_KEYS = {
    "id",
    "book_id",
    "status",
    "service",
    "package",
    "selected_date",
    "selected_time",
    "total",
    "payment_id",
    "created_at",
    "devotee_name",
    "note",
}
# API.md's Subscription plus `total`, the amount paid for it (an addition, as API.md allows).
SUBSCRIPTION_KEYS = {"id", "plan_code", "status", "starts_at", "ends_at", "total", "payment_id"}
PAGE_KEYS = {"count", "next", "previous", "results"}


def _service_line(at: time = time(10, 0)):
    package = make_package()
    return service_line(package, make_slot(package=package, at=at))


def _order_for(user, *, products: int = 2, discount: int = 0) -> Order:
    payment = make_captured_payment(
        user=user,
        lines=[product_line(make_variant(price=10_000 * (i + 1)), quantity=i + 1) for i in range(products)],
        discount=discount,
    )
    fulfil(payment=payment)
    return Order.objects.get(payment=payment)


def _bookings_for(user, count: int = 1) -> list[Booking]:
    payment = make_captured_payment(user=user, lines=[_service_line(time(6 + i, 30)) for i in range(count)])
    fulfil(payment=payment)
    return list(Booking.objects.filter(payment=payment).order_by("pk"))


def _subscription_for(user) -> Subscription:
    payment = make_captured_payment(user=user, lines=[plan_line(make_plan())])
    fulfil(payment=payment)
    return Subscription.objects.get(payment=payment)


def _is_iso_with_offset(text: str) -> bool:
    return datetime.fromisoformat(text).utcoffset() is not None


def test_order_detail_has_the_api_md_shape(user, auth_client):
    order = _order_for(user, products=2, discount=777)

    response = auth_client.get(f"/api/orders/{order.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == ORDER_KEYS
    items = list(order.items.order_by("pk"))
    assert body == {
        "id": order.pk,
        "order_number": order.order_number,
        "status": "CONFIRMED",
        "items": [
            {
                "variant_id": item.variant_id,
                "name": item.name,
                "sku": item.sku,
                "quantity": item.quantity,
                "unit_price": item.unit_price,
                "line_total": item.line_total,
            }
            for item in items
        ],
        "subtotal": 10_000 + 40_000,
        "discount": 777,
        "total": 50_000 - 777,
        "shipping_address": ADDRESS,
        "billing_address": ADDRESS,
        "payment_id": order.payment_id,
        "created_at": body["created_at"],
    }
    assert _is_iso_with_offset(body["created_at"])
    assert all(isinstance(body[key], int) for key in ("subtotal", "discount", "total"))


def test_order_list_is_paginated_newest_first_and_own_only(user, other_user, auth_client):
    mine = [_order_for(user, products=1) for _ in range(3)]
    _order_for(other_user, products=1)

    body = auth_client.get("/api/orders/").json()

    assert set(body) == PAGE_KEYS
    assert body["count"] == 3 and body["next"] is None and body["previous"] is None
    assert [row["id"] for row in body["results"]] == [order.pk for order in reversed(mine)]
    assert all(set(row) == ORDER_KEYS and set(row["items"][0]) == ITEM_KEYS for row in body["results"])


def test_order_list_pages_by_twenty(user, auth_client):
    for _ in range(21):
        _order_for(user, products=1)

    first = auth_client.get("/api/orders/").json()
    second = auth_client.get("/api/orders/?page=2").json()

    assert (first["count"], len(first["results"]), len(second["results"])) == (21, 20, 1)
    assert first["next"].endswith("/api/orders/?page=2") and second["previous"] is not None
    assert auth_client.get("/api/orders/?page=3").status_code == 404


def test_order_list_query_count_does_not_grow_with_orders(user, auth_client, django_assert_num_queries):
    _order_for(user, products=1)
    # JWT user, count, page, items
    with django_assert_num_queries(4):
        assert auth_client.get("/api/orders/").status_code == 200
    for _ in range(4):
        _order_for(user, products=3)
    with django_assert_num_queries(4):
        assert len(auth_client.get("/api/orders/").json()["results"]) == 5


def test_order_detail_query_count_does_not_grow_with_items(user, auth_client, django_assert_num_queries):
    small, large = _order_for(user, products=1), _order_for(user, products=9)
    for order, item_count in ((small, 1), (large, 9)):
        # JWT user, order, items
        with django_assert_num_queries(3):
            response = auth_client.get(f"/api/orders/{order.pk}/")
        assert len(response.json()["items"]) == item_count


@pytest.mark.parametrize("kind", ["orders", "booking/bookings"])
def test_another_users_object_answers_404_like_a_missing_one(user, other_user, other_client, kind):
    target = _order_for(user).pk if kind == "orders" else _bookings_for(user)[0].pk

    for object_id in (target, target + 1000, 2**63, 10**30):
        response = other_client.get(f"/api/{kind}/{object_id}/")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "url",
    ["/api/orders/", "/api/orders/1/", "/api/booking/bookings/", "/api/booking/bookings/1/", "/api/subscriptions/"],
)
def test_every_endpoint_answers_401_without_a_token(api_client, url):
    response = api_client.get(url)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_staff_see_only_their_own_fulfilments_here(user, staff_user, staff_client):
    order, booking, subscription = _order_for(user), _bookings_for(user)[0], _subscription_for(user)
    own = _order_for(staff_user)

    assert [row["id"] for row in staff_client.get("/api/orders/").json()["results"]] == [own.pk]
    assert staff_client.get(f"/api/orders/{order.pk}/").status_code == 404
    assert staff_client.get(f"/api/booking/bookings/{booking.pk}/").status_code == 404
    assert staff_client.get("/api/booking/bookings/").json()["count"] == 0
    assert subscription.pk not in [row["id"] for row in staff_client.get("/api/subscriptions/").json()["results"]]


def test_booking_detail_has_the_api_md_shape(user, auth_client):
    (booking,) = _bookings_for(user)

    body = auth_client.get(f"/api/booking/bookings/{booking.pk}/").json()

    assert set(body) == BOOKING_KEYS
    assert body == {
        "id": booking.pk,
        "book_id": booking.book_id,
        "status": "CONFIRMED",
        "service": {"id": booking.service_id, "name": booking.service.name},
        "package": {"id": booking.package_id, "name": booking.package.name},
        "selected_date": booking.selected_date.isoformat(),
        "selected_time": "06:30",
        "total": 250_000,
        "payment_id": booking.payment_id,
        "created_at": body["created_at"],
        "devotee_name": "",
        "note": "",
    }
    assert _is_iso_with_offset(body["created_at"])


def test_booking_list_is_own_only_paginated_and_constant_in_queries(
    user, other_user, auth_client, django_assert_num_queries
):
    _bookings_for(other_user)
    mine = _bookings_for(user, count=1)
    # JWT user, count, page (service and package joined in)
    with django_assert_num_queries(3):
        body = auth_client.get("/api/booking/bookings/").json()
    assert set(body) == PAGE_KEYS and [row["id"] for row in body["results"]] == [mine[0].pk]

    mine += _bookings_for(user, count=4)
    with django_assert_num_queries(3):
        body = auth_client.get("/api/booking/bookings/").json()
    assert body["count"] == 5
    assert {row["id"] for row in body["results"]} == {booking.pk for booking in mine}
    assert all(set(row) == BOOKING_KEYS for row in body["results"])


def test_subscription_list_has_the_api_md_shape_and_is_own_only(
    user, other_user, auth_client, django_assert_num_queries
):
    _subscription_for(other_user)
    subscription = _subscription_for(user)

    with django_assert_num_queries(3):
        body = auth_client.get("/api/subscriptions/").json()

    assert set(body) == PAGE_KEYS and body["count"] == 1
    (row,) = body["results"]
    assert set(row) == SUBSCRIPTION_KEYS
    assert row == {
        "id": subscription.pk,
        "plan_code": subscription.plan_code,
        "status": "ACTIVE",
        "starts_at": row["starts_at"],
        "ends_at": row["ends_at"],
        "total": 99_900,
        "payment_id": subscription.payment_id,
    }
    assert datetime.fromisoformat(row["ends_at"]) == subscription.ends_at
    assert _is_iso_with_offset(row["starts_at"]) and _is_iso_with_offset(row["ends_at"])

    for _ in range(3):
        _subscription_for(user)
    with django_assert_num_queries(3):
        assert client_for(user).get("/api/subscriptions/").json()["count"] == 4


def _schema() -> dict:
    patterns = [path("api/", include("payfirst.fulfilment.urls"))]
    return SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)


def _properties(schema: dict, name: str) -> set[str]:
    return set(schema["components"]["schemas"][name]["properties"])


def test_schema_describes_the_shapes_pagination_and_errors():
    schema = _schema()

    assert _properties(schema, "OrderOutput") == ORDER_KEYS
    assert _properties(schema, "OrderItemOutput") == ITEM_KEYS
    assert _properties(schema, "BookingOutput") == BOOKING_KEYS
    assert _properties(schema, "SubscriptionOutput") == SUBSCRIPTION_KEYS
    assert _properties(schema, "PaginatedOrderOutputList") == PAGE_KEYS
    paths = schema["paths"]
    assert set(paths) == {
        "/api/orders/",
        "/api/orders/{order_id}/",
        "/api/booking/bookings/",
        "/api/booking/bookings/{booking_id}/",
        "/api/subscriptions/",
    }
    for operations in paths.values():
        assert set(operations) == {"get"}
        responses = operations["get"]["responses"]
        assert {"200", "401", "404"} <= set(responses)
        for status in ("401", "404"):
            assert responses[status]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert paths["/api/subscriptions/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PaginatedSubscriptionOutputList"
    }
    components = schema["components"]["schemas"]
    assert components["BookingOutput"]["properties"]["selected_time"]["example"] == "10:00"
    assert components["BookingOutput"]["properties"]["selected_time"]["pattern"] == "^([01][0-9]|2[0-3]):[0-5][0-9]$"
    shipping = components["OrderOutput"]["properties"]["shipping_address"]
    assert (shipping["type"], shipping["nullable"]) == ("object", True)
    assert set(shipping["properties"]) == {
        "id",
        "full_name",
        "phone",
        "address_line_1",
        "address_line_2",
        "city",
        "state",
        "postal_code",
        "country",
        "gstin",
        "is_default",
    }
    for name in ("subtotal", "discount", "total"):
        assert components["OrderOutput"]["properties"][name]["type"] == "integer"
