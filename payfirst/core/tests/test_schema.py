"""The OpenAPI document at /api/schema/: valid, generated without warnings, and covering every API path served.

The accounts part is checked field by field against API.md; each other app's own schema test does the same for its part.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

# Every path API.md names. Those the code serves so far must all be in the document.
API_MD_PATHS = {
    "/api/auth/register/",
    "/api/auth/token/",
    "/api/auth/token/refresh/",
    "/api/auth/check-email/",
    "/api/auth/profile/",
    "/api/auth/addresses/",
    "/api/auth/addresses/{id}/",
    "/api/catalog/products/",
    "/api/catalog/products/{id}/",
    "/api/catalog/services/",
    "/api/catalog/services/{id}/slots/",
    "/api/catalog/plans/",
    "/api/cart/",
    "/api/cart/add/",
    "/api/cart/items/{id}/",
    "/api/cart/promo/",
    "/api/payments/create-from-cart/",
    "/api/payments/confirm-razorpay/",
    "/api/payments/",
    "/api/payments/{id}/",
    "/api/payments/{id}/cancel/",
    "/api/payments/{id}/check-booking/",
    "/api/payments/cart/status/{cart_id}/",
    "/api/payments/redirect/phonepe/",
    "/api/payments/webhook/razorpay/",
    "/api/payments/webhook/phonepe/",
    "/api/payments/{id}/refunds/",
    "/api/orders/",
    "/api/orders/{id}/",
    "/api/booking/bookings/",
    "/api/booking/bookings/{id}/",
    "/api/subscriptions/",
}
# These exist already and must stay served.
ACCOUNTS_METHODS = {
    "/api/auth/register/": {"post"},
    "/api/auth/token/": {"post"},
    "/api/auth/token/refresh/": {"post"},
    "/api/auth/check-email/": {"get"},
    "/api/auth/password-reset/": {"post"},
    "/api/auth/password-reset/confirm/": {"post"},
    "/api/auth/profile/": {"get", "patch"},
    "/api/auth/addresses/": {"get", "post"},
    "/api/auth/addresses/{id}/": {"get", "patch", "delete"},
}
CATALOG_PATHS = {
    "/api/catalog/products/",
    "/api/catalog/products/{id}/",
    "/api/catalog/services/",
    "/api/catalog/services/{id}/slots/",
    "/api/catalog/plans/",
}
NOT_API = {"/api/schema/", "/api/docs/"}  # the document and its page describe the API; they are not part of it

USER = {"id", "email", "full_name", "phone", "date_joined"}
ADDRESS = {
    "id",
    "full_name",
    "phone",
    "address_line_1",
    "address_line_2",
    "city",
    "state",
    "postal_code",
    "country",
    "is_default",
    "gstin",  # beyond the contract's Address, documented: a business buyer's GSTIN for B2B tax invoices
}


@pytest.fixture
def schema(client) -> dict[str, Any]:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def _served_api_paths() -> set[str]:
    """Every route under /api/ in the URL conf, written as OpenAPI writes it (`<int:id>` becomes `{id}`)."""
    found: set[str] = set()

    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> None:
        for entry in patterns:
            route = str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + route)
            else:
                found.add("/" + prefix + route)

    walk(get_resolver().url_patterns, "")
    openapi = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path).replace("^", "").replace("$", "") for path in found}
    return {path for path in openapi if path.startswith("/api/") and path not in NOT_API}


def _shape(path: str) -> str:
    """A path with its parameter names blanked, so `{product_id}` and API.md's `{id}` compare equal."""
    return re.sub(r"\{\w+\}", "{}", path)


def _component(schema: dict[str, Any], ref: str) -> dict[str, Any]:
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def _json_schema(holder: dict[str, Any]) -> dict[str, Any]:
    return holder["content"]["application/json"]["schema"]


def _request(schema: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    return _component(schema, _json_schema(schema["paths"][path][method]["requestBody"])["$ref"])


def _response(schema: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    return _component(schema, _json_schema(schema["paths"][path][method]["responses"][status])["$ref"])


def _always_present(component: dict[str, Any]) -> set[str]:
    assert set(component["required"]) == set(component["properties"])
    return set(component["properties"])


# --- the document as a whole ---------------------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3(schema):
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "payfirst API"


def test_the_document_generates_without_warnings_or_errors(client):
    # drf-spectacular warns when it had to guess (an undocumented field, two components with one name, an enum two
    # components share without a name in ENUM_NAME_OVERRIDES, ...): each warning is a place where the document may
    # not say what the API does, and a line printed as plain text rather than as a JSON log line.
    GENERATOR_STATS.reset()  # counted per process; count only this generation's
    assert client.get("/api/schema/", {"format": "json"}).status_code == 200
    # The generator keeps what it reported in these two tables (there is no public accessor).
    warnings = list(GENERATOR_STATS._warn_cache)
    errors = list(GENERATOR_STATS._error_cache)
    assert not warnings and not errors, "\n".join(warnings + errors)


def test_every_api_path_the_code_serves_is_in_the_document(schema):
    served = _served_api_paths()
    assert served, "no /api/ routes found"
    assert served <= set(schema["paths"]), sorted(served - set(schema["paths"]))


def test_every_path_of_api_md_that_is_served_is_in_the_document(schema):
    served = {_shape(path) for path in _served_api_paths()}
    documented = {_shape(path) for path in schema["paths"]}
    assert {_shape(path) for path in ACCOUNTS_METHODS} | {_shape(path) for path in CATALOG_PATHS} <= served
    for path in API_MD_PATHS:
        if _shape(path) in served:
            assert _shape(path) in documented, path


def test_the_document_is_served_as_json_and_yaml_and_the_docs_page_renders(client):
    assert client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower() and b"/api/schema/" in docs.content


def test_jwt_bearer_is_the_security_scheme(schema):
    assert schema["components"]["securitySchemes"]["jwtAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }


def test_the_error_component_is_the_one_error_shape(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    detail = _component(schema, error["properties"]["error"]["$ref"])
    assert set(detail["properties"]) == {"code", "message", "fields"}
    assert set(detail["required"]) == {"code", "message"}
    assert detail["properties"]["fields"]["additionalProperties"] == {"type": "array", "items": {"type": "string"}}


def test_lists_answer_count_next_previous_and_results_always(schema):
    page = _response(schema, "/api/auth/addresses/", "get", "200")
    assert _always_present(page) == {"count", "next", "previous", "results"}
    assert page["properties"]["next"]["nullable"] and page["properties"]["previous"]["nullable"]


# --- accounts, exactly as API.md -------------------------------------------------------------------------------


def test_accounts_paths_have_exactly_the_methods_of_api_md(schema):
    accounts = {path: set(ops) for path, ops in schema["paths"].items() if path.startswith("/api/auth/")}
    assert accounts == ACCOUNTS_METHODS


def test_public_accounts_operations_ask_for_no_token_and_the_rest_for_a_bearer_jwt(schema):
    public = {
        "/api/auth/register/",
        "/api/auth/token/",
        "/api/auth/token/refresh/",
        "/api/auth/check-email/",
        "/api/auth/password-reset/",
        "/api/auth/password-reset/confirm/",
    }
    for path, methods in ACCOUNTS_METHODS.items():
        for method in methods:
            operation = schema["paths"][path][method]
            if path in public:
                assert "security" not in operation, (path, method)
            else:
                assert operation["security"] == [{"jwtAuth": []}], (path, method)
                assert _response(schema, path, method, "401") == schema["components"]["schemas"]["Error"]


def test_user_and_address_shapes(schema):
    assert _always_present(_response(schema, "/api/auth/profile/", "get", "200")) == USER
    assert _always_present(_response(schema, "/api/auth/register/", "post", "201")) == USER
    assert _always_present(_response(schema, "/api/auth/addresses/{id}/", "get", "200")) == ADDRESS
    assert _always_present(_response(schema, "/api/auth/addresses/", "post", "201")) == ADDRESS
    page = _response(schema, "/api/auth/addresses/", "get", "200")
    assert (
        _component(schema, page["properties"]["results"]["items"]["$ref"]) == schema["components"]["schemas"]["Address"]
    )


def test_register_token_and_refresh_bodies(schema):
    register = _request(schema, "/api/auth/register/", "post")
    assert set(register["properties"]) == {"email", "password", "full_name", "phone"}
    assert set(register["required"]) == {"email", "password", "full_name"}
    assert register["properties"]["email"]["format"] == "email"
    assert register["properties"]["password"]["writeOnly"] is True

    token = _request(schema, "/api/auth/token/", "post")
    assert set(token["properties"]) == set(token["required"]) == {"email", "password"}
    assert _always_present(_response(schema, "/api/auth/token/", "post", "200")) == {"access", "refresh"}

    refresh = _request(schema, "/api/auth/token/refresh/", "post")
    assert set(refresh["properties"]) == set(refresh["required"]) == {"refresh"}
    assert _always_present(_response(schema, "/api/auth/token/refresh/", "post", "200")) == {"access"}


def test_check_email_takes_a_required_email_query_and_answers_email_and_available(schema):
    operation = schema["paths"]["/api/auth/check-email/"]["get"]
    (email,) = [p for p in operation["parameters"] if p["in"] == "query"]
    assert email["name"] == "email" and email["required"] is True and email["schema"]["format"] == "email"
    answer = _response(schema, "/api/auth/check-email/", "get", "200")
    assert _always_present(answer) == {"email", "available"}
    assert answer["properties"]["available"]["type"] == "boolean"


def test_profile_patch_takes_only_name_and_phone(schema):
    body = _request(schema, "/api/auth/profile/", "patch")
    assert set(body["properties"]) == {"full_name", "phone"}
    assert "required" not in body


def test_address_bodies_describe_the_pin_the_default_country_and_partial_patch(schema):
    create = _request(schema, "/api/auth/addresses/", "post")
    assert set(create["properties"]) == ADDRESS - {"id"}
    assert set(create["required"]) == {"full_name", "phone", "address_line_1", "city", "state", "postal_code"}
    assert create["properties"]["postal_code"]["pattern"] == "^[1-9][0-9]{5}$"
    assert create["properties"]["country"]["default"] == "India"
    patch = _request(schema, "/api/auth/addresses/{id}/", "patch")
    assert set(patch["properties"]) == ADDRESS - {"id"} and "required" not in patch


def test_accounts_error_responses(schema):
    expected = {
        ("/api/auth/register/", "post"): {"201", "400", "413", "429"},
        ("/api/auth/token/", "post"): {"200", "400", "401", "413", "429"},
        ("/api/auth/token/refresh/", "post"): {"200", "400", "401", "413"},
        ("/api/auth/check-email/", "get"): {"200", "400", "429"},
        ("/api/auth/profile/", "get"): {"200", "400", "401"},
        ("/api/auth/profile/", "patch"): {"200", "400", "401", "413"},
        ("/api/auth/addresses/", "get"): {"200", "400", "401", "404"},
        ("/api/auth/addresses/", "post"): {"201", "400", "401", "413"},
        ("/api/auth/addresses/{id}/", "get"): {"200", "400", "401", "404"},
        ("/api/auth/addresses/{id}/", "patch"): {"200", "400", "401", "404", "413"},
        ("/api/auth/addresses/{id}/", "delete"): {"204", "400", "401", "404"},
    }
    error = schema["components"]["schemas"]["Error"]
    for (path, method), statuses in expected.items():
        responses = schema["paths"][path][method]["responses"]
        assert set(responses) == statuses, (path, method)
        for status in statuses - {"200", "201", "204"}:
            assert _response(schema, path, method, status) == error, (path, method, status)
        if "429" in statuses:
            assert responses["429"]["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    assert "content" not in schema["paths"]["/api/auth/addresses/{id}/"]["delete"]["responses"]["204"]


def test_api_docs_page_loads_swagger_ui_from_this_server_not_a_cdn(client):
    page = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn." not in page
    assert client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200
