"""Account services and the database rules behind them: one account per email in any case, one default address."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from payfirst.accounts import services
from payfirst.accounts.errors import EmailTaken
from payfirst.accounts.models import Address, User
from payfirst.accounts.selectors import addresses_for_user, get_address, is_email_available
from payfirst.core.errors import InvalidInput, NotFound
from payfirst.testing.factories import address_payload, make_address

pytestmark = pytest.mark.django_db


def test_register_user_stores_the_email_lower_case_and_hashes_the_password():
    user = services.register_user(email=" Dev@Example.IN", password="saffron-kite-4821", full_name="Dev")
    assert user.email == "dev@example.in"
    assert user.password != "saffron-kite-4821" and user.check_password("saffron-kite-4821")


def test_register_user_maps_the_unique_index_to_email_taken(user):
    with pytest.raises(EmailTaken) as caught:
        services.register_user(email="aSHA@example.com", password="saffron-kite-4821", full_name="Asha Two")
    assert caught.value.code == "invalid_input" and caught.value.fields == {"email": [caught.value.message]}


def test_register_user_runs_the_password_validators_with_the_user_in_mind():
    with pytest.raises(InvalidInput) as caught:
        services.register_user(email="ravi.kumar@example.com", password="Ravi.Kumar@example.com", full_name="Ravi")
    assert set(caught.value.fields or {}) == {"password"}
    assert not User.objects.exists()


def test_the_database_refuses_two_emails_that_differ_only_in_case(user, other_user):
    # A write that bypasses User.save (which lower-cases) still cannot create a duplicate.
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=other_user.pk).update(email="ASHA@EXAMPLE.COM")


def test_is_email_available_compares_case_insensitively(user):
    assert not is_email_available(email="Asha@Example.com")
    assert is_email_available(email="asha2@example.com")


def test_update_profile_changes_only_what_is_given(user):
    services.update_profile(user=user, phone="+918012345678")
    user.refresh_from_db()
    assert user.phone == "+918012345678" and user.full_name == "Asha Rao"
    with pytest.raises(InvalidInput):
        services.update_profile(user=user, phone="nope")


def test_create_address_makes_only_the_first_one_default(user):
    first = services.create_address(user=user, **address_payload())
    second = services.create_address(user=user, **address_payload(city="Mangaluru"))
    assert first.is_default and not second.is_default


def test_create_address_does_not_promote_when_the_user_has_addresses_but_no_default(user):
    make_address(user=user, is_default=False)
    assert services.create_address(user=user, **address_payload()).is_default is False


def test_create_address_with_is_default_takes_the_default_over(user):
    old = make_address(user=user, is_default=True)
    new = services.create_address(user=user, is_default=True, **address_payload())
    old.refresh_from_db()
    assert new.is_default and not old.is_default


def test_create_address_validates_the_pin_itself(user):
    with pytest.raises(InvalidInput) as caught:
        services.create_address(user=user, **address_payload(postal_code="012345"))
    assert set(caught.value.fields or {}) == {"postal_code"}
    assert not Address.objects.exists()


def test_update_address_of_another_user_is_not_found_and_changes_nothing(user, other_user):
    theirs = make_address(user=other_user, is_default=True)
    with pytest.raises(NotFound):
        services.update_address(user=user, address_id=theirs.pk, changes={"city": "Elsewhere"})
    theirs.refresh_from_db()
    assert theirs.city == "Bengaluru"


def test_update_address_leaves_other_users_defaults_alone(user, other_user):
    theirs = make_address(user=other_user, is_default=True)
    mine = make_address(user=user)
    services.update_address(user=user, address_id=mine.pk, changes={"is_default": True})
    theirs.refresh_from_db()
    assert theirs.is_default


def test_delete_address_of_the_default_leaves_no_default(user):
    default = make_address(user=user, is_default=True)
    other = make_address(user=user)
    services.delete_address(user=user, address_id=default.pk)
    other.refresh_from_db()
    assert not other.is_default
    with pytest.raises(NotFound):
        services.delete_address(user=user, address_id=default.pk)


def test_save_address_turns_a_second_default_into_a_change_of_default(user):
    old = make_address(user=user, is_default=True)
    new = Address(user=user, is_default=True, **address_payload(city="Udupi"))
    services.save_address(address=new)
    old.refresh_from_db()
    assert not old.is_default
    assert list(addresses_for_user(user=user)) == [new, old]


def test_the_database_allows_only_one_default_address_per_user(user):
    make_address(user=user, is_default=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_address(user=user, is_default=True)


def test_get_address_is_not_found_for_ids_out_of_range(user):
    for address_id in (0, -1, 2**63):
        with pytest.raises(NotFound):
            get_address(user=user, address_id=address_id)
