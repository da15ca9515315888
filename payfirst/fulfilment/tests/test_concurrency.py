"""PostgreSQL only: concurrent captures for the same user and plan take turns, so subscription periods never overlap."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection, transaction

from payfirst.fulfilment.models import Subscription
from payfirst.payments.handover import fulfil
from payfirst.testing.factories import make_captured_payment, make_plan, plan_line

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _wait_for(condition: Callable[[], bool], *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)  # polling interval between checks of the condition
    return False


def _in_thread(target: Callable[[], None], errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            target()
        except BaseException as exc:  # handed to the main thread, which fails the test with it
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("attempt", range(3))
def test_concurrent_captures_of_the_same_plan_stack_instead_of_overlapping(make_user, attempt):
    user = make_user()
    plan = make_plan(duration_days=30)
    first, second = (make_captured_payment(user=user, lines=[plan_line(plan)]) for _ in range(2))
    first_fulfilled, commit_first = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def capture_first() -> None:
        with transaction.atomic():
            fulfil(payment=first)
            first_fulfilled.set()
            commit_first.wait(timeout=30)

    def capture_second() -> None:
        with transaction.atomic():
            fulfil(payment=second)

    threads = [_in_thread(capture_first, errors)]
    assert first_fulfilled.wait(timeout=30), errors
    threads.append(_in_thread(capture_second, errors))
    # The second capture must queue behind the first (on the user's row) rather than read around it.
    waited = _wait_for(lambda: _lock_waiters() >= 1, seconds=10)
    commit_first.set()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors, errors
    assert waited, "the second capture did not wait for the first"
    earlier, later = Subscription.objects.filter(user=user).order_by("starts_at")
    assert earlier.payment_id == first.pk and later.payment_id == second.pk
    assert later.starts_at == earlier.ends_at
    assert later.ends_at - later.starts_at == timedelta(days=30)
