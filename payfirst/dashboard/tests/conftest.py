"""Fixtures for the dashboard tests: a fixed clock and payments seeded across the 30-day window (IST days)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from payfirst.payments.models import Payment, Refund, RefundStatus
from payfirst.payments.states import PaymentStatus
from payfirst.testing.factories import make_bare_payment

IST = ZoneInfo("Asia/Kolkata")
# 11:30 IST on Sunday 15 March 2026: the window is 14 February to 15 March (2026 is not a leap year).
NOW = datetime(2026, 3, 15, 6, 0, tzinfo=UTC)

S = PaymentStatus


def ist(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=IST)


@pytest.fixture
def frozen_now(monkeypatch):
    """Every timezone.now() in the test (the dashboard's window, auto_now_add, sessions) reads NOW."""
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    return NOW


def seed_payment(
    *,
    user,
    status: str,
    amount: int,
    created_at: datetime,
    captured_at: datetime | None = None,
    refunds: tuple[tuple[str, int], ...] = (),
) -> Payment:
    """A payment created (and perhaps captured) at the given instants, with refunds (status, paise) on it."""
    payment = make_bare_payment(user=user, status=status, amount=amount)
    refunded = sum(paise for refund_status, paise in refunds if refund_status == RefundStatus.PROCESSED)
    Payment.objects.filter(pk=payment.pk).update(
        created_at=created_at, captured_at=captured_at, refunded_amount=refunded
    )
    for refund_status, paise in refunds:
        Refund.objects.create(
            payment=payment,
            amount=paise,
            status=refund_status,
            reason="customer asked",
            processed_at=NOW if refund_status == RefundStatus.PROCESSED else None,
        )
    payment.refresh_from_db()
    return payment


@dataclass(frozen=True)
class Seeded:
    """What the seeded data must show on the dashboard."""

    by_state: dict[str, int]
    outcomes: int
    captured: int
    # IST day -> (captured payments, gross, refunded, net), paise; every other day of the window is zero.
    revenue: dict[tuple[int, int], tuple[int, int, int, int]]


@pytest.fixture
def seeded(frozen_now, user) -> Seeded:
    P, F_ = RefundStatus.PROCESSED, RefundStatus.FAILED
    # Created and captured on 10 March (IST), one of them late in the evening.
    seed_payment(user=user, status=S.CAPTURED, amount=100_000, created_at=ist(3, 10, 10), captured_at=ist(3, 10, 10, 5))
    seed_payment(
        user=user, status=S.CAPTURED, amount=50_050, created_at=ist(3, 10, 23, 30), captured_at=ist(3, 10, 23, 40)
    )
    # Captured at 00:10 IST on 11 March, which is still 10 March in UTC: it belongs to the 11th. One processed
    # refund is subtracted; a failed and a pending one are not.
    seed_payment(
        user=user,
        status=S.PARTIALLY_REFUNDED,
        amount=200_000,
        created_at=ist(3, 10, 23, 55),
        captured_at=ist(3, 11, 0, 10),
        refunds=((P, 30_000), (F_, 5_000), (RefundStatus.PENDING, 7_000)),
    )
    # Fully refunded: captured-ever (counts as a success) but worth nothing now.
    seed_payment(
        user=user,
        status=S.REFUNDED,
        amount=40_000,
        created_at=ist(3, 12, 9),
        captured_at=ist(3, 12, 9, 1),
        refunds=((P, 25_000), (P, 15_000)),
    )
    seed_payment(user=user, status=S.FAILED, amount=10_000, created_at=ist(3, 12, 11))
    seed_payment(user=user, status=S.FAILED, amount=10_000, created_at=ist(3, 13, 11))
    seed_payment(user=user, status=S.EXPIRED, amount=10_000, created_at=ist(3, 13, 12))
    seed_payment(user=user, status=S.FLAGGED, amount=10_000, created_at=ist(3, 14, 8))
    seed_payment(user=user, status=S.SUPERSEDED, amount=10_000, created_at=ist(3, 14, 9))
    seed_payment(user=user, status=S.PENDING, amount=10_000, created_at=ist(3, 15, 11))
    # The first minute of the window's first day counts ...
    seed_payment(user=user, status=S.CANCELLED, amount=10_000, created_at=ist(2, 14, 0, 1))
    # ... the last minute before it does not; its capture, inside the window, is revenue of 14 February.
    seed_payment(
        user=user, status=S.CAPTURED, amount=12_345, created_at=ist(2, 13, 23, 59), captured_at=ist(2, 14, 0, 2)
    )
    # Long before the window: nowhere on the page.
    seed_payment(user=user, status=S.CAPTURED, amount=99_999, created_at=ist(1, 5, 10), captured_at=ist(1, 5, 10))

    by_state = dict.fromkeys(S.values, 0)
    by_state.update(
        {
            S.CAPTURED: 2,
            S.PARTIALLY_REFUNDED: 1,
            S.REFUNDED: 1,
            S.FAILED: 2,
            S.EXPIRED: 1,
            S.FLAGGED: 1,
            S.SUPERSEDED: 1,
            S.PENDING: 1,
            S.CANCELLED: 1,
        }
    )
    return Seeded(
        by_state=by_state,
        outcomes=9,  # 11 created in the window, less PENDING and SUPERSEDED
        captured=4,  # the two CAPTURED, PARTIALLY_REFUNDED and REFUNDED
        revenue={
            (2, 14): (1, 12_345, 0, 12_345),
            (3, 10): (2, 150_050, 0, 150_050),
            (3, 11): (1, 200_000, 30_000, 170_000),
            (3, 12): (1, 40_000, 40_000, 0),
        },
    )
