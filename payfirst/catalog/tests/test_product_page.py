"""GET /api/catalog/products/ reads a plain page in one statement (catalog/product_page.py) and answers byte for
byte what the ORM's paginated list answers."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from payfirst.catalog import apis
from payfirst.catalog.models import Product, Variant

pytestmark = pytest.mark.django_db

URL = "/api/catalog/products/"


@pytest.fixture
def products():
    """25 active products (one without variants, one with an inactive variant) and an inactive one."""
    made = []
    for number in range(25):
        product = Product.objects.create(name=f"Diya {number % 7}", slug=f"diya-{number}", description=f"No. {number}")
        for size, price in (("Large", 30000 + number), ("Small", 10000)):
            if number == 3:
                break
            Variant.objects.create(
                product=product, sku=f"D{number}-{size}", name=size, price=price, stock_on_hand=5, reserved=number % 6
            )
        made.append(product)
    Variant.objects.filter(sku="D4-Small").update(is_active=False)
    Product.objects.create(name="Hidden", slug="hidden", is_active=False)
    return made


QUERIES = [
    "",
    "?page=2",
    "?page=02",
    "?page=3",  # past the end: 404
    "?page_size=7&page=4",
    "?page_size=500",
    "?page_size=abc",
    "?page=last",
    "?page=0",
    "?page=x",
    "?search=diya 4",
    "?search=",
]


@pytest.mark.parametrize("query", QUERIES)
def test_the_one_statement_list_answers_byte_for_byte(api_client, products, monkeypatch, query):
    fast = api_client.get(URL + query)
    monkeypatch.setattr(apis, "plain_page_number", lambda request: None)
    orm = api_client.get(URL + query)
    assert (fast.status_code, fast.content) == (orm.status_code, orm.content)


def test_a_plain_page_is_one_statement(api_client, products):
    api_client.get(URL)
    with CaptureQueriesContext(connection) as queries:
        response = api_client.get(URL + "?page=2")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 25 and len(body["results"]) == 5 and body["next"] is None
    assert len(queries) == 1


def test_an_empty_catalog_is_an_empty_first_page(api_client):
    response = api_client.get(URL)
    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}
