"""The OpenAPI document describes the catalog exactly as API.md does."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client) -> dict[str, Any]:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def _component(schema: dict[str, Any], ref: str) -> dict[str, Any]:
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def _fields(schema: dict[str, Any], ref: str) -> set[str]:
    component = _component(schema, ref)
    assert set(component["required"]) == set(component["properties"])  # every field is always present
    return set(component["properties"])


def _ok_schema(schema: dict[str, Any], path: str) -> dict[str, Any]:
    return schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]


def _params(schema: dict[str, Any], path: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}


CATALOG_PATHS = {
    "/api/catalog/products/",
    "/api/catalog/products/{product_id}/",
    "/api/catalog/services/",
    "/api/catalog/services/{service_id}/slots/",
    "/api/catalog/services/{service_id}/availability/",
    "/api/catalog/plans/",
}


def test_schema_has_the_catalog_paths_as_public_read_only_operations(schema):
    catalog = {path: ops for path, ops in schema["paths"].items() if path.startswith("/api/catalog/")}
    assert set(catalog) == CATALOG_PATHS
    for path, operations in catalog.items():
        assert set(operations) == {"get"}, path
        assert "security" not in operations["get"], path  # no authentication is asked for


def test_schema_lists_paginate_and_describe_their_items_exactly(schema):
    expected_items = {
        "/api/catalog/products/": {"id", "name", "slug", "description", "variants"},
        "/api/catalog/services/": {"id", "name", "service_type", "description", "packages"},
        "/api/catalog/services/{service_id}/slots/": {"date", "time", "capacity", "remaining"},
        "/api/catalog/plans/": {"code", "name", "price", "duration_days"},
    }
    for path, item_fields in expected_items.items():
        page = _component(schema, _ok_schema(schema, path)["$ref"])
        assert set(page["properties"]) == {"count", "next", "previous", "results"}, path
        assert _fields(schema, page["properties"]["results"]["items"]["$ref"]) == item_fields, path
        assert "page" in _params(schema, path), path

    product = _component(schema, _ok_schema(schema, "/api/catalog/products/{product_id}/")["$ref"])
    assert _fields(schema, product["properties"]["variants"]["items"]["$ref"]) == {
        "id",
        "sku",
        "name",
        "price",
        "stock",
        "in_stock",
    }
    service = _component(schema, "#/components/schemas/ServiceOutput")
    assert _fields(schema, service["properties"]["packages"]["items"]["$ref"]) == {"id", "name", "price"}


def test_schema_describes_the_query_parameters_and_error_responses(schema):
    search = _params(schema, "/api/catalog/products/")["search"]
    assert search["schema"]["type"] == "string" and not search.get("required", False)

    slots = "/api/catalog/services/{service_id}/slots/"
    date = _params(schema, slots)["date"]
    assert date["in"] == "query" and date["required"] is True and date["schema"]["format"] == "date"
    responses = schema["paths"][slots]["get"]["responses"]
    assert {"200", "400", "404"} <= set(responses)
    error = _component(schema, responses["400"]["content"]["application/json"]["schema"]["$ref"])
    detail = _component(schema, error["properties"]["error"]["$ref"])
    assert set(detail["properties"]) == {"code", "message", "fields"} and set(detail["required"]) == {"code", "message"}
    assert "404" in schema["paths"]["/api/catalog/products/{product_id}/"]["get"]["responses"]

    slot_time = _component(schema, "#/components/schemas/SlotOutput")["properties"]["time"]
    assert slot_time["type"] == "string" and slot_time["pattern"] == r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
