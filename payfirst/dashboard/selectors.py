"""Read queries for the dashboard and the payment metrics: each one grouped aggregate, whatever the table holds.

Days are Indian Standard Time days (Asia/Kolkata) whatever TIME_ZONE says: the shops and their customers are in India.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from payfirst.payments import selectors as payments_selectors
from payfirst.payments.models import GatewayName, Payment, Refund, RefundStatus, WebhookEvent, WebhookOutcome
from payfirst.payments.states import PaymentStatus

DASHBOARD_TZ = ZoneInfo("Asia/Kolkata")
WINDOW_DAYS = 30

# Payments that have not reached an outcome of their own: still open, or replaced by a newer payment for the same
# cart (the newer one carries that checkout's outcome, so counting both would count one checkout twice).
NO_OUTCOME: frozenset[str] = frozenset({PaymentStatus.PENDING, PaymentStatus.SUPERSEDED})


@dataclass(frozen=True)
class Window:
    """The last `days` IST days up to and including `last_day`, and the instants that bound them."""

    first_day: date
    last_day: date
    starts_at: datetime  # first_day 00:00 IST, inclusive
    ends_at: datetime  # the day after last_day, 00:00 IST, exclusive

    @property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range((self.last_day - self.first_day).days + 1)]


def dashboard_window(*, now: datetime | None = None, days: int = WINDOW_DAYS) -> Window:
    last_day = (now or timezone.now()).astimezone(DASHBOARD_TZ).date()
    first_day = last_day - timedelta(days=days - 1)
    return Window(
        first_day=first_day,
        last_day=last_day,
        starts_at=datetime.combine(first_day, time.min, tzinfo=DASHBOARD_TZ),
        ends_at=datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=DASHBOARD_TZ),
    )


def _success_permille(*, captured: int, outcomes: int) -> int | None:
    """captured / outcomes in thousandths, rounded down (100.0% only when every one was captured); None if none."""
    if not outcomes:
        return None
    return captured * 1000 // outcomes


@dataclass(frozen=True)
class DayOutcomes:
    day: date  # the IST day the payments were created
    outcomes: int
    captured: int

    @property
    def success_permille(self) -> int | None:
        return _success_permille(captured=self.captured, outcomes=self.outcomes)


@dataclass(frozen=True)
class PaymentOutcomes:
    """Payments created in the window, by their state now, and the capture success rate among them."""

    by_state: dict[str, int]  # every PaymentStatus, in declaration order, zeros included
    total: int
    outcomes: int  # reached an outcome: status not in NO_OUTCOME
    captured: int  # of those, captured at some point (captured_at is set), whatever refunds came later
    by_day: list[DayOutcomes]  # every day of the window, oldest first

    @property
    def success_permille(self) -> int | None:
        return _success_permille(captured=self.captured, outcomes=self.outcomes)


def payment_outcomes(*, window: Window) -> PaymentOutcomes:
    """One query over the payments created in the window, grouped by IST day of creation and state."""
    rows = (
        Payment.objects.filter(created_at__gte=window.starts_at, created_at__lt=window.ends_at)
        .order_by()
        .annotate(day=TruncDate("created_at", tzinfo=DASHBOARD_TZ))
        .values_list("day", "status")
        .annotate(n=Count("id"), captured=Count("id", filter=Q(captured_at__isnull=False)))
    )
    by_state = dict.fromkeys(PaymentStatus.values, 0)
    per_day = {day: [0, 0] for day in window.days}  # day -> [outcomes, captured]
    for day, status, n, n_captured in rows:
        by_state[status] += n
        if status not in NO_OUTCOME:
            per_day[day][0] += n
            per_day[day][1] += n_captured
    by_day = [DayOutcomes(day=day, outcomes=o, captured=c) for day, (o, c) in per_day.items()]
    return PaymentOutcomes(
        by_state=by_state,
        total=sum(by_state.values()),
        outcomes=sum(d.outcomes for d in by_day),
        captured=sum(d.captured for d in by_day),
        by_day=by_day,
    )


@dataclass(frozen=True)
class DayRevenue:
    day: date
    captured_count: int
    gross: int  # paise: the amounts of the payments captured that day
    refunded: int  # paise: processed refunds of those payments, whenever they were processed
    net: int  # paise: gross - refunded


def revenue_by_day(*, window: Window) -> list[DayRevenue]:
    """Revenue per IST day of capture, every day of the window (zeros included), in one grouped query.

    A refund is subtracted from the day its payment was captured, so a day's bar is what that day's sales are
    worth now; pending and failed refunds subtract nothing.
    """
    processed_refunds = (
        Refund.objects.filter(payment=OuterRef("pk"), status=RefundStatus.PROCESSED)
        .order_by()
        .values("payment")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    rows = (
        Payment.objects.filter(captured_at__gte=window.starts_at, captured_at__lt=window.ends_at)
        .order_by()
        .annotate(day=TruncDate("captured_at", tzinfo=DASHBOARD_TZ))
        .values_list("day")
        .annotate(
            n=Count("id"),
            gross=Sum("amount"),
            refunded=Sum(Coalesce(Subquery(processed_refunds, output_field=IntegerField()), Value(0))),
        )
    )
    found = {day: (n, gross, refunded) for day, n, gross, refunded in rows}
    result = []
    for day in window.days:
        n, gross, refunded = found.get(day, (0, 0, 0))
        result.append(DayRevenue(day=day, captured_count=n, gross=gross, refunded=refunded, net=gross - refunded))
    return result


# Metrics: whole-table counts, each one grouped query, every known label value reported (zeros included) so a
# series never vanishes when its count drops to zero.


def payment_counts_by_status() -> dict[str, int]:
    counts = dict.fromkeys(PaymentStatus.values, 0)
    counts.update(Payment.objects.order_by().values_list("status").annotate(n=Count("id")))
    return counts


def webhook_counts_by_gateway_and_outcome() -> dict[tuple[str, str], int]:
    counts = {(gateway, outcome): 0 for gateway in GatewayName.values for outcome in WebhookOutcome.values}
    for gateway, outcome, n in (
        WebhookEvent.objects.order_by().values_list("gateway", "outcome").annotate(n=Count("id"))
    ):
        counts[(gateway, outcome)] = n
    return counts


def refund_counts_by_status() -> dict[str, int]:
    counts = dict.fromkeys(RefundStatus.values, 0)
    counts.update(Refund.objects.order_by().values_list("status").annotate(n=Count("id")))
    return counts


def captured_without_fulfilment() -> int:
    """CAPTURED payments with no order, booking or subscription and no pending or processed refund: money taken for
    nothing. Capture and fulfilment commit together, so this is 0 unless something is wrong. A failed refund does
    not count as a refund here: the money is still held."""
    return payments_selectors.unfulfilled_captures().count()
