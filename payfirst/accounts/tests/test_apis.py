"""The accounts endpoints of API.md: answers, validation errors in the one shape, 401s, and 404 for others' data."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from payfirst.accounts.models import Address, User
from payfirst.testing.factories import address_payload, make_address

pytestmark = pytest.mark.django_db

USER_FIELDS = {"id", "email", "full_name", "phone", "date_joined"}
ADDRESS_FIELDS = {
    "id",
    "full_name",
    "phone",
    "address_line_1",
    "gstin",
    "address_line_2",
    "city",
    "state",
    "postal_code",
    "country",
    "is_default",
}
STRONG_PASSWORD = "saffron-kite-4821"


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def _invalid_fields(response: Any) -> dict[str, list[str]]:
    error = _error(response, 400, "invalid_input")
    assert set(error) == {"code", "message", "fields"}
    return error["fields"]


# --- register ----------------------------------------------------------------------------------------------------


def test_register_creates_a_user_and_answers_201_with_the_user_shape(api_client):
    response = api_client.post(
        "/api/auth/register/",
        {
            "email": "  Meera.Iyer@Example.COM ",
            "password": STRONG_PASSWORD,
            "full_name": "Meera Iyer",
            "phone": "9845012345",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["email"] == "meera.iyer@example.com"
    assert body["full_name"] == "Meera Iyer" and body["phone"] == "9845012345"
    user = User.objects.get(pk=body["id"])
    assert user.check_password(STRONG_PASSWORD) and not user.is_staff


def test_register_phone_is_optional(api_client):
    response = api_client.post(
        "/api/auth/register/",
        {"email": "kiran@example.com", "password": STRONG_PASSWORD, "full_name": "Kiran"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["phone"] == ""


def test_register_needs_email_password_and_name(api_client):
    fields = _invalid_fields(api_client.post("/api/auth/register/", {}, format="json"))
    assert set(fields) == {"email", "password", "full_name"}


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"email": "not-an-email"}, "email"),
        ({"phone": "12345"}, "phone"),
        ({"full_name": ""}, "full_name"),
        ({"password": "short"}, "password"),
        ({"password": "password123"}, "password"),  # too common
        ({"password": "48213957601"}, "password"),  # entirely numeric
        ({"password": "meera.iyer@example.com"}, "password"),  # too like the email
    ],
)
def test_register_refuses_invalid_fields_and_weak_passwords(api_client, overrides, field):
    payload = {"email": "meera.iyer@example.com", "password": STRONG_PASSWORD, "full_name": "Meera Iyer", **overrides}
    fields = _invalid_fields(api_client.post("/api/auth/register/", payload, format="json"))
    assert set(fields) == {field}
    assert not User.objects.filter(email="meera.iyer@example.com").exists()


def test_register_refuses_an_email_taken_in_any_letter_case(api_client, user):
    response = api_client.post(
        "/api/auth/register/",
        {"email": "ASHA@Example.com", "password": STRONG_PASSWORD, "full_name": "Another Asha"},
        format="json",
    )
    assert _invalid_fields(response) == {"email": ["An account with this email already exists."]}
    assert User.objects.count() == 1


def test_register_ignores_a_stale_bearer_token(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    response = api_client.post(
        "/api/auth/register/",
        {"email": "nila@example.com", "password": STRONG_PASSWORD, "full_name": "Nila"},
        format="json",
    )
    assert response.status_code == 201


# --- tokens ------------------------------------------------------------------------------------------------------


def test_token_pair_for_the_right_password_in_any_email_case_then_refresh(api_client, user):
    response = api_client.post(
        "/api/auth/token/", {"email": "Asha@EXAMPLE.com", "password": "correct-horse-battery"}, format="json"
    )
    assert response.status_code == 200, response.content
    tokens = response.json()
    assert set(tokens) == {"access", "refresh"}

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert api_client.get("/api/auth/profile/").json()["email"] == "asha@example.com"

    refreshed = APIClient().post("/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 200
    assert set(refreshed.json()) == {"access"}


@pytest.mark.parametrize("email, password", [("asha@example.com", "wrong-password"), ("nobody@example.com", "x")])
def test_token_with_wrong_credentials_is_401_in_the_error_shape(api_client, user, email, password):
    response = api_client.post("/api/auth/token/", {"email": email, "password": password}, format="json")
    error = _error(response, 401, "authentication_failed")
    assert "fields" not in error
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_token_for_an_inactive_user_is_401(api_client, make_user):
    make_user(email="gone@example.com", is_active=False)
    response = api_client.post(
        "/api/auth/token/", {"email": "gone@example.com", "password": "correct-horse-battery"}, format="json"
    )
    _error(response, 401, "authentication_failed")


def test_token_needs_email_and_password(api_client):
    assert set(_invalid_fields(api_client.post("/api/auth/token/", {}, format="json"))) == {"email", "password"}


def test_refresh_with_a_bad_token_is_401_and_without_one_is_400(api_client, user):
    _error(
        api_client.post("/api/auth/token/refresh/", {"refresh": "garbage"}, format="json"), 401, "authentication_failed"
    )
    assert set(_invalid_fields(api_client.post("/api/auth/token/refresh/", {}, format="json"))) == {"refresh"}


def test_refresh_refuses_an_access_token(api_client, user):
    access = api_client.post(
        "/api/auth/token/", {"email": "asha@example.com", "password": "correct-horse-battery"}, format="json"
    ).json()["access"]
    _error(
        api_client.post("/api/auth/token/refresh/", {"refresh": access}, format="json"), 401, "authentication_failed"
    )


# --- check-email -------------------------------------------------------------------------------------------------


def test_check_email_says_whether_an_email_is_free_in_any_case(api_client, user):
    taken = api_client.get("/api/auth/check-email/", {"email": "ASHA@example.com"})
    assert taken.status_code == 200
    assert taken.json() == {"email": "asha@example.com", "available": False}
    free = api_client.get("/api/auth/check-email/", {"email": "new.person@example.com"})
    assert free.json() == {"email": "new.person@example.com", "available": True}


@pytest.mark.parametrize("query", [{}, {"email": ""}, {"email": "not-an-email"}])
def test_check_email_refuses_a_missing_or_invalid_email(api_client, query):
    assert set(_invalid_fields(api_client.get("/api/auth/check-email/", query))) == {"email"}


# --- profile -----------------------------------------------------------------------------------------------------


def test_profile_shows_the_signed_in_user(auth_client, user):
    response = auth_client.get("/api/auth/profile/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["id"] == user.pk and body["email"] == "asha@example.com" and body["phone"] == "+919876543210"


def test_profile_patch_changes_name_and_phone_but_never_the_email(auth_client, user):
    response = auth_client.patch(
        "/api/auth/profile/", {"full_name": "Asha R. Rao", "email": "evil@example.com"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["full_name"] == "Asha R. Rao"
    assert response.json()["email"] == "asha@example.com"
    user.refresh_from_db()
    assert user.full_name == "Asha R. Rao" and user.email == "asha@example.com" and user.phone == "+919876543210"

    cleared = auth_client.patch("/api/auth/profile/", {"phone": ""}, format="json")
    assert cleared.status_code == 200 and cleared.json()["phone"] == ""


@pytest.mark.parametrize("payload, field", [({"full_name": ""}, "full_name"), ({"phone": "call me"}, "phone")])
def test_profile_patch_refuses_invalid_fields(auth_client, user, payload, field):
    assert set(_invalid_fields(auth_client.patch("/api/auth/profile/", payload, format="json"))) == {field}
    user.refresh_from_db()
    assert user.full_name == "Asha Rao" and user.phone == "+919876543210"


def test_profile_put_is_not_allowed(auth_client):
    _error(auth_client.put("/api/auth/profile/", {"full_name": "X"}, format="json"), 405, "method_not_allowed")


# --- addresses ---------------------------------------------------------------------------------------------------


def test_address_create_answers_201_with_the_address_shape_and_india_by_default(auth_client, user):
    response = auth_client.post("/api/auth/addresses/", address_payload(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == ADDRESS_FIELDS
    assert body["country"] == "India" and body["postal_code"] == "560038"
    assert Address.objects.get(pk=body["id"]).user == user


def test_the_first_address_becomes_the_default_and_later_ones_do_not(auth_client):
    first = auth_client.post("/api/auth/addresses/", address_payload(), format="json").json()
    second = auth_client.post("/api/auth/addresses/", address_payload(city="Mysuru"), format="json").json()
    assert first["is_default"] is True and second["is_default"] is False


def test_a_first_address_sent_with_is_default_false_stays_not_default(auth_client):
    body = auth_client.post("/api/auth/addresses/", address_payload(is_default=False), format="json").json()
    assert body["is_default"] is False


def test_creating_a_default_address_clears_the_previous_default(auth_client, user):
    old = make_address(user=user, is_default=True)
    new = auth_client.post("/api/auth/addresses/", address_payload(is_default=True), format="json").json()
    assert new["is_default"] is True
    old.refresh_from_db()
    assert old.is_default is False


@pytest.mark.parametrize("pin", ["056003", "56003", "5600381", "56OO38", ""])
def test_address_refuses_a_postal_code_that_is_not_an_indian_pin(auth_client, pin):
    fields = _invalid_fields(auth_client.post("/api/auth/addresses/", address_payload(postal_code=pin), format="json"))
    assert set(fields) == {"postal_code"}


def test_address_create_needs_the_required_fields(auth_client):
    fields = _invalid_fields(auth_client.post("/api/auth/addresses/", {}, format="json"))
    assert set(fields) == {"full_name", "phone", "address_line_1", "city", "state", "postal_code"}


def test_address_list_is_paginated_own_only_and_default_first(auth_client, user, other_user):
    make_address(user=user, city="Pune")
    default = make_address(user=user, city="Chennai", is_default=True)
    make_address(user=other_user, city="Kochi")
    response = auth_client.get("/api/auth/addresses/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 2 and body["next"] is None and body["previous"] is None
    assert [a["city"] for a in body["results"]] == ["Chennai", "Pune"]
    assert body["results"][0]["id"] == default.pk
    assert all(set(a) == ADDRESS_FIELDS for a in body["results"])


def test_address_list_pages_and_a_missing_page_is_404(auth_client, user):
    for index in range(21):
        make_address(user=user, city=f"City {index}")
    first = auth_client.get("/api/auth/addresses/").json()
    assert first["count"] == 21 and len(first["results"]) == 20 and first["next"]
    assert len(auth_client.get("/api/auth/addresses/", {"page": 2}).json()["results"]) == 1
    _error(auth_client.get("/api/auth/addresses/", {"page": 9}), 404, "not_found")


def test_address_detail_get_patch_delete(auth_client, user):
    address = make_address(user=user)
    got = auth_client.get(f"/api/auth/addresses/{address.pk}/")
    assert got.status_code == 200 and got.json()["id"] == address.pk and set(got.json()) == ADDRESS_FIELDS

    patched = auth_client.patch(
        f"/api/auth/addresses/{address.pk}/", {"city": "Mysuru", "postal_code": "570001"}, format="json"
    )
    assert patched.status_code == 200
    assert patched.json()["city"] == "Mysuru" and patched.json()["state"] == "Karnataka"
    address.refresh_from_db()
    assert address.city == "Mysuru" and address.postal_code == "570001"

    deleted = auth_client.delete(f"/api/auth/addresses/{address.pk}/")
    assert deleted.status_code == 204 and deleted.content == b""
    assert not Address.objects.filter(pk=address.pk).exists()
    _error(auth_client.get(f"/api/auth/addresses/{address.pk}/"), 404, "not_found")


def test_patching_is_default_moves_the_default(auth_client, user):
    first = make_address(user=user, is_default=True)
    second = make_address(user=user, city="Hubballi")
    response = auth_client.patch(f"/api/auth/addresses/{second.pk}/", {"is_default": True}, format="json")
    assert response.status_code == 200 and response.json()["is_default"] is True
    first.refresh_from_db()
    assert first.is_default is False
    assert list(Address.objects.filter(user=user, is_default=True)) == [second]


def test_address_patch_refuses_an_invalid_pin_and_changes_nothing(auth_client, user):
    address = make_address(user=user)
    response = auth_client.patch(f"/api/auth/addresses/{address.pk}/", {"postal_code": "012345"}, format="json")
    assert set(_invalid_fields(response)) == {"postal_code"}
    address.refresh_from_db()
    assert address.postal_code == "560038"


def test_another_users_address_is_404_on_get_patch_and_delete(auth_client, other_user):
    theirs = make_address(user=other_user, is_default=True)
    url = f"/api/auth/addresses/{theirs.pk}/"
    _error(auth_client.get(url), 404, "not_found")
    _error(auth_client.patch(url, {"city": "Stolen", "is_default": True}, format="json"), 404, "not_found")
    _error(auth_client.delete(url), 404, "not_found")
    theirs.refresh_from_db()
    assert theirs.city == "Bengaluru" and theirs.is_default is True


@pytest.mark.parametrize("address_id", [0, 2**63, 10**30])
def test_an_address_id_beyond_the_column_range_is_404_not_500(auth_client, address_id):
    url = f"/api/auth/addresses/{address_id}/"
    _error(auth_client.get(url), 404, "not_found")
    _error(auth_client.patch(url, {"city": "X"}, format="json"), 404, "not_found")
    _error(auth_client.delete(url), 404, "not_found")


def test_address_put_is_not_allowed(auth_client, user):
    address = make_address(user=user)
    _error(
        auth_client.put(f"/api/auth/addresses/{address.pk}/", address_payload(), format="json"),
        405,
        "method_not_allowed",
    )


# --- signed out --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/auth/profile/"),
        ("patch", "/api/auth/profile/"),
        ("get", "/api/auth/addresses/"),
        ("post", "/api/auth/addresses/"),
        ("get", "/api/auth/addresses/1/"),
        ("patch", "/api/auth/addresses/1/"),
        ("delete", "/api/auth/addresses/1/"),
    ],
)
def test_signed_in_endpoints_answer_401_without_or_with_a_bad_token(api_client, method, path):
    _error(getattr(api_client, method)(path, {}, format="json"), 401, "not_authenticated")
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    _error(getattr(api_client, method)(path, {}, format="json"), 401, "authentication_failed")
