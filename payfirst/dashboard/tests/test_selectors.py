"""The dashboard's queries: IST day boundaries, the success-rate definition, net revenue, one query each."""

from __future__ import annotations

from datetime import date

import pytest

from payfirst.dashboard import selectors
from payfirst.dashboard.tests.conftest import NOW, ist, seed_payment
from payfirst.payments.models import RefundStatus
from payfirst.payments.states import PaymentStatus

pytestmark = pytest.mark.django_db


def test_dashboard_window_is_thirty_ist_days_ending_today():
    window = selectors.dashboard_window(now=NOW)
    assert (window.first_day, window.last_day) == (date(2026, 2, 14), date(2026, 3, 15))
    assert len(window.days) == 30
    assert window.starts_at == ist(2, 14, 0)
    assert window.ends_at == ist(3, 16, 0)


def test_dashboard_window_uses_the_ist_date_not_the_utc_date():
    # 20:00 UTC on 14 March is 01:30 IST on 15 March.
    window = selectors.dashboard_window(now=ist(3, 15, 1, 30))
    assert window.last_day == date(2026, 3, 15)


def test_payment_outcomes_counts_states_and_captures_in_the_window(seeded):
    outcomes = selectors.payment_outcomes(window=selectors.dashboard_window())
    assert outcomes.by_state == seeded.by_state
    assert list(outcomes.by_state) == list(PaymentStatus.values)
    assert (outcomes.outcomes, outcomes.captured) == (seeded.outcomes, seeded.captured)
    assert outcomes.success_permille == 444  # 4 / 9, rounded down


def test_payment_outcomes_rate_is_none_without_outcomes(frozen_now, user):
    seed_payment(user=user, status=PaymentStatus.PENDING, amount=5_000, created_at=ist(3, 15, 9))
    outcomes = selectors.payment_outcomes(window=selectors.dashboard_window())
    assert outcomes.total == 1
    assert outcomes.success_permille is None


def test_payment_outcomes_rate_is_full_only_when_all_captured(frozen_now, user):
    for n in range(3):
        seed_payment(
            user=user,
            status=PaymentStatus.CAPTURED,
            amount=5_000 + n,
            created_at=ist(3, 14, 9),
            captured_at=ist(3, 14, 9, 5),
        )
    outcomes = selectors.payment_outcomes(window=selectors.dashboard_window())
    assert outcomes.success_permille == 1000


def test_revenue_by_day_groups_by_ist_capture_day_less_processed_refunds(seeded):
    window = selectors.dashboard_window()
    days = selectors.revenue_by_day(window=window)
    assert [d.day for d in days] == window.days
    found = {(d.day.month, d.day.day): (d.captured_count, d.gross, d.refunded, d.net) for d in days if d.captured_count}
    assert found == seeded.revenue
    assert all(d.net == d.gross - d.refunded for d in days)


def test_each_dashboard_query_is_one_query_whatever_the_data(seeded, user, django_assert_num_queries):
    for n in range(20):
        seed_payment(
            user=user,
            status=PaymentStatus.PARTIALLY_REFUNDED,
            amount=10_000 + n,
            created_at=ist(2, 20 + n % 8, 10),
            captured_at=ist(2, 20 + n % 8, 11),
            refunds=((RefundStatus.PROCESSED, 1_000),),
        )
    window = selectors.dashboard_window()
    with django_assert_num_queries(1):
        selectors.payment_outcomes(window=window)
    with django_assert_num_queries(1):
        days = selectors.revenue_by_day(window=window)
    assert sum(d.refunded for d in days) == 70_000 + 20 * 1_000


def test_payment_outcomes_per_ist_day_of_creation(seeded):
    outcomes = selectors.payment_outcomes(window=selectors.dashboard_window())
    assert len(outcomes.by_day) == 30
    found = {(d.day.month, d.day.day): (d.captured, d.outcomes) for d in outcomes.by_day if d.outcomes}
    assert found == {(2, 14): (0, 1), (3, 10): (3, 3), (3, 12): (1, 2), (3, 13): (0, 2), (3, 14): (0, 1)}
    assert [d.success_permille for d in outcomes.by_day if d.outcomes] == [0, 1000, 500, 0, 0]
