"""GSTIN validation (format, state code, check character) on its own, on an address through the API, and the
seller's settings checked at start-up."""

from __future__ import annotations

import pytest
from django.test import override_settings

from payfirst.accounts.models import Address
from payfirst.core.gstin import gstin_check_character, gstin_problem, state_code_for
from payfirst.invoices.checks import check_seller
from payfirst.invoices.tests.inputs import B2B_GSTIN_KA, B2B_GSTIN_MH


def test_the_check_character_of_the_published_example():
    assert gstin_check_character("27AAPFU0939F1Z") == "V"
    assert gstin_problem(B2B_GSTIN_MH) == ""


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("27AAPFU0939F1ZX", "check character"),  # one character mistyped
        ("27AAPFU0939F1Z", "15 characters"),
        ("27aapfu0939f1zv", "15 characters"),
        ("99AAPFU0939F1ZV", "not a GST state code"),
        ("27AAPFU0939F0ZV", "15 characters"),  # entity number 0 does not exist
    ],
)
def test_bad_gstins_are_refused_with_a_reason(value, words):
    assert words in gstin_problem(value)


def test_the_state_must_match():
    assert gstin_problem(B2B_GSTIN_MH, state_code="27") == ""
    assert "not in Karnataka" in gstin_problem(B2B_GSTIN_MH, state_code="29")


def test_state_names_as_people_write_them():
    assert state_code_for("Karnataka") == state_code_for(" karnataka ") == state_code_for("KA") == "29"
    assert state_code_for("NCT of Delhi") == state_code_for("New Delhi") == "07"
    assert state_code_for("Atlantis") is None


def _address(**extra: str) -> dict[str, str]:
    return {
        "full_name": "Meera Iyer",
        "phone": "+919812345678",
        "address_line_1": "12 MG Road",
        "city": "Bengaluru",
        "state": "Karnataka",
        "postal_code": "560001",
        **extra,
    }


def test_an_address_takes_a_valid_gstin_of_its_state(auth_client, user):
    response = auth_client.post("/api/auth/addresses/", _address(gstin=B2B_GSTIN_KA.lower()), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["gstin"] == B2B_GSTIN_KA
    assert Address.objects.get(user=user).gstin == B2B_GSTIN_KA


@pytest.mark.parametrize("gstin", [B2B_GSTIN_MH, "29AAPFU0939F1ZX", "GSTIN"])
def test_an_address_refuses_a_gstin_of_another_state_or_a_broken_one(auth_client, gstin):
    response = auth_client.post("/api/auth/addresses/", _address(gstin=gstin), format="json")
    assert response.status_code == 400
    assert "gstin" in response.json()["error"]["fields"]


def test_the_demo_seller_settings_pass_the_check():
    assert check_seller() == []


@override_settings(GST_SELLER_GSTIN=B2B_GSTIN_MH, GST_SELLER_STATE="Karnataka")
def test_a_seller_gstin_of_another_state_fails_the_check():
    assert [problem.id for problem in check_seller()] == ["invoices.E002"]


@override_settings(GST_SELLER_GSTIN="29AAKCS4821M1ZT")
def test_a_seller_gstin_with_a_wrong_check_character_fails_the_check():
    assert [problem.id for problem in check_seller()] == ["invoices.E002"]
