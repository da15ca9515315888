"""The storefront's server side: page shells that read no model, and the refresh-token cookie endpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework_simplejwt.tokens import RefreshToken

from payfirst.storefront.views import COOKIE_PATH, REFRESH_COOKIE

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse  # the test client's response, as the stubs type it

ORIGIN = "http://testserver"
PAGES = [
    "/",
    "/products/1/",
    "/services/1/",
    "/cart/",
    "/checkout/",
    "/confirmbooking",
    "/confirmbooking/",
    "/signin/",
    "/register/",
    "/password-reset/",
    "/password-reset/confirm/",
    "/account/",
    "/account/addresses/",
]


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_shells_served_without_a_database_query(db, path):
    with CaptureQueriesContext(connection) as queries:
        response = Client().get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert response["Cache-Control"] == "no-store"
    assert len(queries) == 0
    body = response.content.decode()
    assert "/static/storefront/app.js" in body and 'lang="en-IN"' in body


def test_every_input_on_every_page_has_a_label(db):
    import re

    for path in PAGES:
        body = Client().get(path).content.decode()
        ids = re.findall(r'<(?:input|textarea|select)[^>]*\sid="([^"]+)"', body)
        inputs = re.findall(r"<(?:input|textarea|select)\b", body)
        assert len(ids) == len(inputs), path
        for input_id in ids:
            assert f'for="{input_id}"' in body, (path, input_id)


def test_the_product_and_service_pages_hand_their_id_to_the_script(db):
    assert 'data-productid="7"' in Client().get("/products/7/").content.decode()
    assert 'data-serviceid="3"' in Client().get("/services/3/").content.decode()


@pytest.fixture
def refresh(user):
    return str(RefreshToken.for_user(user))


def keep(client: Client, token: str, origin: str | None = ORIGIN) -> _MonkeyPatchedWSGIResponse:
    headers = {"Origin": origin} if origin else {}
    return client.post("/session/", {"refresh": token}, content_type="application/json", headers=headers)


def test_a_kept_refresh_token_is_an_httponly_strict_cookie_only_session_paths_see(db, refresh):
    client = Client()
    response = keep(client, refresh)
    assert response.status_code == 204
    cookie = response.cookies[REFRESH_COOKIE]
    assert cookie.value == refresh
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == COOKIE_PATH
    assert refresh not in response.content.decode()


def test_refresh_answers_a_fresh_access_token_from_the_cookie(db, user, refresh):
    client = Client()
    keep(client, refresh)
    response = client.post("/session/refresh/", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 200
    access = response.json()["access"]
    me = client.get("/api/auth/profile/", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert me.status_code == 200 and me.json()["email"] == user.email


def test_refresh_without_a_cookie_or_with_a_bad_one_answers_401_in_the_error_shape(db):
    client = Client()
    response = client.post("/session/refresh/", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"
    client.cookies[REFRESH_COOKIE] = "not-a-token"
    response = client.post("/session/refresh/", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 401 and response.json()["error"]["code"] == "authentication_failed"
    assert response.cookies[REFRESH_COOKIE].value == ""  # the bad cookie is dropped


@pytest.mark.parametrize("origin", [None, "https://evil.example", "http://testserver.evil.example"])
def test_session_endpoints_refuse_requests_from_other_origins(db, refresh, origin):
    client = Client()
    assert keep(client, refresh, origin=origin).status_code == 403
    keep(client, refresh)
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    response = client.post("/session/refresh/", **headers)
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{", 400, "malformed_request"),
        (b"[]", 400, "invalid_input"),
        (b'{"refresh": ""}', 400, "invalid_input"),
        (b'{"refresh": "garbage"}', 401, "authentication_failed"),
        (b'{"refresh": "' + b"x" * 5000 + b'"}', 413, "payload_too_large"),
        (b"\xff\xfe", 400, "malformed_request"),
    ],
)
def test_keeping_a_token_refuses_bad_bodies(db, body, status, code):
    response = Client().post("/session/", body, content_type="application/json", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_signing_out_forgets_the_cookie(db, refresh):
    client = Client()
    keep(client, refresh)
    response = client.delete("/session/", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 204 and response.cookies[REFRESH_COOKIE].value == ""
    assert client.post("/session/refresh/", HTTP_ORIGIN=ORIGIN).status_code == 401


def test_session_endpoints_take_only_their_methods(db):
    assert Client().get("/session/").status_code == 405
    assert Client().get("/session/refresh/").status_code == 405


def test_the_return_url_default_is_the_storefront(settings):
    from django.conf import settings as live

    assert live.FRONTEND_BASE_URL == live.PAYFIRST_PUBLIC_BASE_URL
