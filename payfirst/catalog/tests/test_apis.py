"""The public catalog API: shapes, pagination, search, slots, 404s and validation in the one error shape."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from payfirst.catalog.tests.factories import (
    make_package,
    make_plan,
    make_product,
    make_service,
    make_slot,
    make_variant,
)

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/catalog/products/"
SERVICES = "/api/catalog/services/"
PLANS = "/api/catalog/plans/"


def slots_url(service_id: int) -> str:
    return f"/api/catalog/services/{service_id}/slots/"


def tomorrow() -> str:
    return (timezone.localdate() + timedelta(days=1)).isoformat()


# Products


def test_product_list_shows_active_products_with_active_variants_and_stock_net_of_reservations(api_client):
    diya = make_product(name="Brass Diya", description="Hand-cast lamp")
    small = make_variant(product=diya, sku="DIYA-S", name="Small", price=24900, stock_on_hand=10, reserved=3)
    large = make_variant(product=diya, sku="DIYA-L", name="Large", price=89900, stock_on_hand=2, reserved=2)
    make_variant(product=diya, sku="DIYA-OLD", name="Retired", is_active=False)
    make_product(name="Hidden", is_active=False)

    response = api_client.get(PRODUCTS)

    assert response.status_code == 200
    assert response.json() == {
        "count": 1,
        "next": None,
        "previous": None,
        "results": [
            {
                "id": diya.id,
                "name": "Brass Diya",
                "slug": diya.slug,
                "description": "Hand-cast lamp",
                "variants": [
                    {"id": small.id, "sku": "DIYA-S", "name": "Small", "price": 24900, "stock": 7, "in_stock": True},
                    {"id": large.id, "sku": "DIYA-L", "name": "Large", "price": 89900, "stock": 0, "in_stock": False},
                ],
            }
        ],
    }


def test_product_list_paginates_twenty_a_page(api_client):
    for _ in range(25):
        make_variant(product=make_product())

    first = api_client.get(PRODUCTS).json()
    second = api_client.get(PRODUCTS, {"page": 2}).json()

    assert first["count"] == 25 and len(first["results"]) == 20
    assert first["previous"] is None and first["next"].endswith("/api/catalog/products/?page=2")
    assert len(second["results"]) == 5 and second["next"] is None
    assert {p["id"] for p in first["results"]}.isdisjoint({p["id"] for p in second["results"]})


@pytest.mark.parametrize("page", ["3", "0", "abc"])
def test_product_list_answers_a_page_that_does_not_exist_with_404_in_the_error_shape(api_client, page):
    make_product()
    response = api_client.get(PRODUCTS, {"page": page})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("term", ["diya", "DIYA", "hand-CAST", "br-l9", "extra large"])
def test_product_search_matches_name_description_and_variant_sku_and_name_case_insensitively(api_client, term):
    diya = make_product(name="Brass Diya", description="Hand-cast lamp")
    make_variant(product=diya, sku="BR-L9", name="Extra Large")
    make_variant(product=diya, sku="BR-L9B", name="Extra Large Boxed")  # matches "br-l9" too: still one result
    other = make_product(name="Incense", description="Sandalwood")
    make_variant(product=other, sku="AG-20", name="Pack of 20")

    response = api_client.get(PRODUCTS, {"search": term})

    assert response.status_code == 200
    assert [p["id"] for p in response.json()["results"]] == [diya.id]
    assert response.json()["count"] == 1


def test_product_search_ignores_inactive_variants_and_an_empty_term_lists_everything(api_client):
    kurta = make_product(name="Kurta")
    make_variant(product=kurta, sku="KURTA-M")
    make_variant(product=kurta, sku="KURTA-RETIRED", is_active=False)
    make_product(name="Thali")

    assert api_client.get(PRODUCTS, {"search": "retired"}).json()["count"] == 0
    assert api_client.get(PRODUCTS, {"search": "  "}).json()["count"] == 2


@pytest.mark.parametrize(
    ("term", "message"),
    [
        ("ab\x00c", "Null characters are not allowed."),
        ("x" * 201, "Ensure this field has no more than 200 characters."),
    ],
)
def test_product_search_refuses_what_the_database_cannot_take_with_400(api_client, term, message):
    response = api_client.get(PRODUCTS, {"search": term})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid_input",
        "message": "Check the highlighted fields.",
        "fields": {"search": [message]},
    }


def test_product_detail_answers_the_product_shape(api_client):
    thali = make_product(name="Puja Thali", description="Seven pieces")
    variant = make_variant(product=thali, sku="THALI-7", name="Steel", price=69900, stock_on_hand=1)

    response = api_client.get(f"{PRODUCTS}{thali.id}/")

    assert response.status_code == 200
    assert response.json() == {
        "id": thali.id,
        "name": "Puja Thali",
        "slug": thali.slug,
        "description": "Seven pieces",
        "variants": [
            {"id": variant.id, "sku": "THALI-7", "name": "Steel", "price": 69900, "stock": 1, "in_stock": True}
        ],
    }


def test_product_detail_answers_404_for_inactive_unknown_and_out_of_range_ids(api_client):
    hidden = make_product(is_active=False)
    for product_id in (hidden.id, 987654, 2**63, 99999999999999999999):
        response = api_client.get(f"{PRODUCTS}{product_id}/")
        assert response.status_code == 404, product_id
        assert response.json()["error"]["code"] == "not_found"
        assert set(response.json()["error"]) == {"code", "message"}


def test_public_endpoints_ignore_an_invalid_authorization_header(api_client):
    product = make_product()
    service = make_service()
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-real-token")
    for url in (PRODUCTS, f"{PRODUCTS}{product.id}/", SERVICES, PLANS, f"{slots_url(service.id)}?date={tomorrow()}"):
        assert api_client.get(url).status_code == 200, url


def test_catalog_is_read_only(api_client):
    response = api_client.post(PRODUCTS, {"name": "x"}, format="json")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def _make_products(n: int) -> None:
    for _ in range(n):
        product = make_product()
        for _ in range(3):
            make_variant(product=product)


def test_product_list_runs_the_same_number_of_queries_whatever_the_page_holds(api_client):
    _make_products(2)
    with CaptureQueriesContext(connection) as small:
        assert api_client.get(PRODUCTS).json()["count"] == 2
    _make_products(15)
    with CaptureQueriesContext(connection) as large:
        assert len(api_client.get(PRODUCTS).json()["results"]) == 17
    with CaptureQueriesContext(connection) as searched:
        assert api_client.get(PRODUCTS, {"search": "variant"}).json()["count"] == 17

    assert len(small) == len(large) == 1  # a plain page: one statement (catalog/product_page.py)
    assert len(searched) == 3  # a search: the ORM's count, page and variants


# Services and slots


def test_service_list_shows_active_services_with_active_packages(api_client):
    puja = make_service(name="Satyanarayan Puja", description="At your home")
    basic = make_package(service=puja, name="Basic", price=210000)
    premium = make_package(service=puja, name="Premium", price=510000)
    make_package(service=puja, name="Old", is_active=False)
    make_service(name="Retired Puja", is_active=False)

    response = api_client.get(SERVICES)

    assert response.status_code == 200
    assert response.json() == {
        "count": 1,
        "next": None,
        "previous": None,
        "results": [
            {
                "id": puja.id,
                "name": "Satyanarayan Puja",
                "service_type": "PUJA",
                "description": "At your home",
                "packages": [
                    {"id": basic.id, "name": "Basic", "price": 210000},
                    {"id": premium.id, "name": "Premium", "price": 510000},
                ],
            }
        ],
    }


def test_service_list_runs_the_same_number_of_queries_whatever_the_page_holds(api_client):
    def add(n: int) -> None:
        for _ in range(n):
            service = make_service()
            make_package(service=service)
            make_package(service=service)

    add(1)
    with CaptureQueriesContext(connection) as small:
        api_client.get(SERVICES)
    add(10)
    with CaptureQueriesContext(connection) as large:
        assert api_client.get(SERVICES).json()["count"] == 11
    assert len(small) == len(large) == 3


def test_slots_lists_the_days_active_slots_in_time_order_with_remaining_net_of_taken(api_client):
    puja = make_service()
    day = timezone.localdate() + timedelta(days=1)
    make_slot(service=puja, day=day, at=time(16, 0), capacity=1, taken=1)
    make_slot(service=puja, day=day, at=time(7, 0), capacity=3, taken=1)
    make_slot(service=puja, day=day, at=time(10, 0), capacity=2, is_active=False)
    make_slot(service=puja, day=day + timedelta(days=1), at=time(7, 0))
    make_slot(service=make_service(), day=day, at=time(8, 0))

    response = api_client.get(slots_url(puja.id), {"date": day.isoformat()})

    assert response.status_code == 200
    assert response.json() == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [
            {"date": day.isoformat(), "time": "07:00", "capacity": 3, "remaining": 2},
            {"date": day.isoformat(), "time": "16:00", "capacity": 1, "remaining": 0},
        ],
    }


def test_slots_of_a_past_date_are_not_listed(api_client):
    puja = make_service()
    yesterday = timezone.localdate() - timedelta(days=1)
    make_slot(service=puja, day=yesterday, at=time(23, 59))

    response = api_client.get(slots_url(puja.id), {"date": yesterday.isoformat()})

    assert response.status_code == 200
    assert response.json()["count"] == 0


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({}, "This field is required."),
        ({"date": ""}, "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."),
        ({"date": "22-11-2026"}, "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."),
        ({"date": "2026-02-30"}, "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."),
        ({"date": "2026-11-22T10:00"}, "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."),
    ],
)
def test_slots_need_a_valid_date(api_client, query, message):
    response = api_client.get(slots_url(make_service().id), query)
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "invalid_input", "message": "Check the highlighted fields.", "fields": {"date": [message]}}
    }


def test_slots_of_an_inactive_or_unknown_service_answer_404(api_client):
    hidden = make_service(is_active=False)
    for service_id in (hidden.id, 424242, 2**63):
        response = api_client.get(slots_url(service_id), {"date": tomorrow()})
        assert response.status_code == 404, service_id
        assert response.json()["error"]["code"] == "not_found"


def test_slots_run_the_same_number_of_queries_whatever_the_page_holds(api_client):
    puja = make_service()
    day = timezone.localdate() + timedelta(days=1)
    make_slot(service=puja, day=day, at=time(6, 0))
    with CaptureQueriesContext(connection) as small:
        api_client.get(slots_url(puja.id), {"date": day.isoformat()})
    for hour in range(7, 20):
        make_slot(service=puja, day=day, at=time(hour, 0))
    with CaptureQueriesContext(connection) as large:
        assert api_client.get(slots_url(puja.id), {"date": day.isoformat()}).json()["count"] == 14
    assert len(small) == len(large) == 3  # service, count, page


# Plans


def test_plan_list_shows_active_plans_cheapest_first(api_client):
    make_plan(code="annual", price=299900, duration_days=365)
    make_plan(code="monthly-basic", price=29900, duration_days=30)
    make_plan(code="legacy", price=100, is_active=False)

    response = api_client.get(PLANS)

    assert response.status_code == 200
    assert response.json() == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [
            {"code": "monthly-basic", "name": "Monthly Basic", "price": 29900, "duration_days": 30},
            {"code": "annual", "name": "Annual", "price": 299900, "duration_days": 365},
        ],
    }
