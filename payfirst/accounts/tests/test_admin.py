"""The Django admin for users and addresses works with the email-based custom user."""

from __future__ import annotations

import pytest

from payfirst.accounts.models import Address, User
from payfirst.testing.factories import address_payload, make_address

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user(email="root@example.com", is_staff=True, is_superuser=True))
    return client


def test_admin_adds_a_user_with_a_lower_cased_email_and_a_validated_password(admin_client):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "Lakshmi@Example.com",
            "full_name": "Lakshmi N",
            "phone": "",
            "usable_password": "true",
            "password1": "saffron-kite-4821",
            "password2": "saffron-kite-4821",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(email="lakshmi@example.com")
    assert user.full_name == "Lakshmi N" and user.check_password("saffron-kite-4821")


def test_admin_refuses_a_weak_password_and_an_email_taken_in_another_case(admin_client, user):
    weak = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "new@example.com",
            "full_name": "N",
            "usable_password": "true",
            "password1": "123",
            "password2": "123",
        },
    )
    assert weak.status_code == 200 and weak.context["adminform"].form.errors.get("password2")

    taken = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "ASHA@example.com",
            "full_name": "Asha Again",
            "usable_password": "true",
            "password1": "saffron-kite-4821",
            "password2": "saffron-kite-4821",
        },
    )
    assert taken.status_code == 200
    assert taken.context["adminform"].form.errors["email"] == ["An account with this email already exists."]
    assert User.objects.filter(full_name="Asha Again").count() == 0


def test_admin_user_pages_render_and_the_change_form_saves(admin_client, user):
    make_address(user=user, is_default=True)
    assert admin_client.get("/admin/accounts/user/").status_code == 200
    assert admin_client.get("/admin/accounts/user/", {"q": "asha"}).status_code == 200
    change = admin_client.get(f"/admin/accounts/user/{user.pk}/change/")
    assert change.status_code == 200 and b"560038" in change.content  # the address inline

    form = change.context["adminform"].form
    data = {
        "email": "Asha.Rao@Example.com",
        "full_name": "Asha Rao",
        "phone": user.phone,
        "is_active": "on",
        "addresses-TOTAL_FORMS": "1",
        "addresses-INITIAL_FORMS": "1",
        "addresses-MIN_NUM_FORMS": "0",
        "addresses-MAX_NUM_FORMS": "1000",
        "addresses-0-id": str(user.addresses.get().pk),
        "addresses-0-user": str(user.pk),
    }
    assert "email" in form.fields
    saved = admin_client.post(f"/admin/accounts/user/{user.pk}/change/", data)
    assert saved.status_code == 302, saved.context["adminform"].form.errors if saved.context else saved.content
    user.refresh_from_db()
    assert user.email == "asha.rao@example.com"


def test_admin_address_pages_and_ticking_default_moves_it(admin_client, user):
    old = make_address(user=user, is_default=True)
    assert admin_client.get("/admin/accounts/address/").status_code == 200
    assert admin_client.get(f"/admin/accounts/address/{old.pk}/change/").status_code == 200

    response = admin_client.post(
        "/admin/accounts/address/add/",
        {
            "user": str(user.pk),
            "country": "India",
            "is_default": "on",
            **address_payload(city="Thrissur", postal_code="680001"),
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    old.refresh_from_db()
    assert not old.is_default
    assert Address.objects.get(user=user, is_default=True).city == "Thrissur"


def test_admin_address_form_still_checks_the_pin(admin_client, user):
    response = admin_client.post(
        "/admin/accounts/address/add/",
        {"user": str(user.pk), "country": "India", **address_payload(postal_code="000001")},
    )
    assert response.status_code == 200
    assert "postal_code" in response.context["adminform"].form.errors
    assert not Address.objects.exists()


def test_admin_sets_a_new_password_through_the_validators(admin_client, user):
    page = admin_client.get(f"/admin/accounts/user/{user.pk}/password/")
    assert page.status_code == 200
    weak = admin_client.post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"usable_password": "true", "password1": "12345678", "password2": "12345678"},
    )
    assert weak.status_code == 200
    user.refresh_from_db()
    assert user.check_password("correct-horse-battery")
    response = admin_client.post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"usable_password": "true", "password1": "monsoon-drift-7716", "password2": "monsoon-drift-7716"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("monsoon-drift-7716")
