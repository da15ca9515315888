"""The OpenAPI document describes the cart endpoints as API.md has them: bodies, answers and error codes."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

CONTRACT_CART = {
    "id",
    "cart_id",
    "status",
    "items",
    "items_count",
    "subtotal",
    "discount",
    "total",
    "promo_code",
    "currency",
}
CONTRACT_ITEM = {
    "id",
    "kind",
    "variant_id",
    "package_id",
    "plan_code",
    "name",
    "selected_date",
    "selected_time",
    "quantity",
    "unit_price",
    "line_total",
}


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def _codes(schema, operation, status):
    ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
    body = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    detail = schema["components"]["schemas"][body["properties"]["error"]["$ref"].rsplit("/", 1)[1]]
    enum = schema["components"]["schemas"][detail["properties"]["code"]["$ref"].rsplit("/", 1)[1]]
    return set(enum["enum"])


def test_every_cart_endpoint_is_described_with_its_methods(schema):
    paths = schema["paths"]
    assert set(paths["/api/cart/"]) >= {"get", "delete"}
    assert set(paths["/api/cart/add/"]) >= {"post"}
    assert set(paths["/api/cart/items/{item_id}/"]) >= {"patch", "delete"}
    assert set(paths["/api/cart/promo/"]) >= {"post", "delete"}
    assert "201" in paths["/api/cart/add/"]["post"]["responses"]
    for path, method in [
        ("/api/cart/", "get"),
        ("/api/cart/", "delete"),
        ("/api/cart/items/{item_id}/", "patch"),
        ("/api/cart/items/{item_id}/", "delete"),
        ("/api/cart/promo/", "post"),
        ("/api/cart/promo/", "delete"),
    ]:
        ok = paths[path][method]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": "#/components/schemas/Cart"}


def test_cart_and_item_shapes_hold_the_contract_fields_all_required(schema):
    components = schema["components"]["schemas"]
    for name, fields in (("Cart", CONTRACT_CART), ("CartItem", CONTRACT_ITEM)):
        assert fields <= set(components[name]["properties"])
        assert fields <= set(components[name]["required"])
    item = components["CartItem"]["properties"]
    assert all(
        item[f].get("nullable") for f in ("variant_id", "package_id", "plan_code", "selected_date", "selected_time")
    )


def test_add_body_is_one_of_the_three_kinds_of_line(schema):
    body = schema["paths"]["/api/cart/add/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    variants = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]["oneOf"]
    required = [set(schema["components"]["schemas"][v["$ref"].rsplit("/", 1)[1]]["required"]) for v in variants]
    assert required == [{"variant_id"}, {"package_id", "selected_date", "selected_time"}, {"plan_code"}]


def test_patch_body_requires_quantity(schema):
    body = schema["paths"]["/api/cart/items/{item_id}/"]["patch"]["requestBody"]
    component = schema["components"]["schemas"][body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
    assert body["required"] is True and component["required"] == ["quantity"]


def test_error_responses_list_their_codes(schema):
    paths = schema["paths"]
    add = paths["/api/cart/add/"]["post"]
    assert _codes(schema, add, "400") >= {"invalid_quantity", "slot_not_available", "invalid_input"}
    assert _codes(schema, add, "404") == {"not_found"}
    assert _codes(schema, add, "409") == {"insufficient_stock", "slot_full"}
    patch = paths["/api/cart/items/{item_id}/"]["patch"]
    assert _codes(schema, patch, "400") >= {"invalid_quantity"}
    assert _codes(schema, patch, "404") == {"not_found"}
    assert _codes(schema, patch, "409") == {"insufficient_stock"}
    assert _codes(schema, paths["/api/cart/promo/"]["post"], "400") >= {"invalid_promo_code"}
    assert _codes(schema, paths["/api/cart/"]["get"], "401") == {"not_authenticated", "authentication_failed"}
