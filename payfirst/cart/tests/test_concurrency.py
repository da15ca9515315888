"""Races on PostgreSQL, with real threads and their own connections: first requests, same-variant adds, promo uses."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from conftest import client_for
from payfirst.cart import services
from payfirst.cart.models import Cart, CartItem, CartStatus, PromoRedemption
from payfirst.testing.factories import make_promo, make_variant

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 12


def run_together(task: Callable[[int], Any], count: int = THREADS) -> list[Any]:
    """Run `task(i)` in `count` threads released at the same instant; each thread closes its own connection."""
    barrier = threading.Barrier(count)

    def worker(index: int) -> Any:
        try:
            barrier.wait(timeout=30)
            return task(index)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(worker, range(count)))


def test_simultaneous_first_requests_leave_exactly_one_active_cart(make_user):
    user = make_user()

    def first_request(_: int) -> tuple[int, str]:
        response = client_for(user).get("/api/cart/")
        return response.status_code, response.json()["cart_id"]

    results = run_together(first_request)
    assert {status for status, _ in results} == {200}
    assert len({cart_id for _, cart_id in results}) == 1
    assert Cart.objects.filter(user=user, status=CartStatus.ACTIVE).count() == 1
    assert Cart.objects.filter(user=user).count() == 1


def test_simultaneous_adds_of_the_same_variant_leave_one_line_with_the_summed_quantity(make_user):
    user = make_user()
    variant = make_variant(stock=500)

    def add_three(_: int) -> int:
        response = client_for(user).post("/api/cart/add/", {"variant_id": variant.pk, "quantity": 3}, format="json")
        return response.status_code

    assert run_together(add_three) == [201] * THREADS
    line = CartItem.objects.get(cart__user=user)
    assert line.quantity == 3 * THREADS
    assert Cart.objects.filter(user=user).count() == 1


def test_simultaneous_adds_never_pass_the_stock_or_the_99_limit(make_user):
    user = make_user()
    scarce = make_variant(stock=20)

    def add_four(_: int) -> int:
        body = {"variant_id": scarce.pk, "quantity": 4}
        return client_for(user).post("/api/cart/add/", body, format="json").status_code

    statuses = run_together(add_four)
    assert statuses.count(201) == 5 and statuses.count(409) == THREADS - 5  # 5 × 4 = the 20 in stock
    assert CartItem.objects.get(cart__user=user).quantity == 20


def test_two_users_adding_at_once_each_get_only_their_own_lines(make_user):
    users = [make_user(), make_user()]
    variants = [make_variant(stock=500), make_variant(stock=500)]

    def add(index: int) -> int:
        who = index % 2
        body = {"variant_id": variants[who].pk, "quantity": 1}
        return client_for(users[who]).post("/api/cart/add/", body, format="json").status_code

    assert run_together(add) == [201] * THREADS
    for who in (0, 1):
        lines = list(CartItem.objects.filter(cart__user=users[who]).values_list("variant_id", "quantity"))
        assert lines == [(variants[who].pk, THREADS // 2)]


def test_simultaneous_replays_of_a_promo_use_count_it_once(make_user):
    user = make_user()
    promo = make_promo(code="RACE")

    def record(_: int) -> None:
        services.record_promo_use(promo_id=promo.pk, user_id=user.pk, payment_reference="PAY-RACE", discount=250)

    run_together(record)
    promo.refresh_from_db()
    assert promo.uses_count == 1 and PromoRedemption.objects.count() == 1
