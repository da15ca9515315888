"""Sign-up and the default address under concurrency (PostgreSQL): the database keeps both rules race-free."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from payfirst.accounts import services
from payfirst.accounts.errors import EmailTaken
from payfirst.accounts.models import Address, User
from payfirst.testing.factories import address_payload

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(calls: list[Callable[[], object]]) -> list[str]:
    """Run the calls at once, each on its own thread and connection; return "ok" or the exception's class name."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(call: Callable[[], object]) -> None:
        result = "ok"
        try:
            barrier.wait()
            call()
        except Exception as error:  # noqa: BLE001 - recorded and asserted on by the test
            result = type(error).__name__
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_concurrent_sign_ups_with_one_email_in_different_cases_make_one_account():
    emails = ["tara@example.com", "Tara@example.com", "TARA@example.com", "tara@EXAMPLE.com", "tArA@example.com"]

    def sign_up(email: str) -> Callable[[], object]:
        return lambda: services.register_user(email=email, password="saffron-kite-4821", full_name="Tara")

    outcomes = _race([sign_up(email) for email in emails])

    assert sorted(outcomes) == sorted(["ok"] + [EmailTaken.__name__] * 4)
    assert User.objects.filter(email="tara@example.com").count() == 1


def test_concurrent_default_addresses_leave_exactly_one_default(make_user):
    user = make_user(email="meena@example.com")

    def add(n: int) -> Callable[[], object]:
        return lambda: services.create_address(user=user, is_default=True, **address_payload(city=f"City {n}"))

    outcomes = _race([add(n) for n in range(8)])

    assert outcomes == ["ok"] * 8
    assert Address.objects.filter(user=user).count() == 8
    assert Address.objects.filter(user=user, is_default=True).count() == 1


def test_concurrent_first_addresses_make_exactly_one_default(make_user):
    user = make_user(email="kavya@example.com")

    outcomes = _race([lambda: services.create_address(user=user, **address_payload()) for _ in range(6)])

    assert outcomes == ["ok"] * 6
    assert Address.objects.filter(user=user, is_default=True).count() == 1


def test_concurrent_moves_of_the_default_leave_exactly_one(make_user):
    user = make_user(email="arjun@example.com")
    addresses = [services.create_address(user=user, **address_payload(city=f"City {n}")) for n in range(6)]

    def make_default(address_id: int) -> Callable[[], object]:
        return lambda: services.update_address(user=user, address_id=address_id, changes={"is_default": True})

    outcomes = _race([make_default(address.pk) for address in addresses])

    assert outcomes == ["ok"] * 6
    assert Address.objects.filter(user=user, is_default=True).count() == 1
