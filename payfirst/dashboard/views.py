"""The staff dashboard page under the admin: payments per state, capture success rate and revenue per day for the
last 30 IST days, as server-drawn SVG bar charts. Two data queries whatever the data holds."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from payfirst.dashboard import selectors
from payfirst.dashboard.charts import BarChart, Point, column_chart, row_chart
from payfirst.dashboard.display import percent_from_permille, rupees

SUCCESS_RATE_DEFINITION = (
    "Payments created in these 30 days that were captured (whatever was refunded later), out of those that reached an "
    "outcome: every status except PENDING (still open) and SUPERSEDED (replaced by a newer payment for the same cart, "
    "which counts instead). FLAGGED, FAILED, EXPIRED and CANCELLED payments count as not captured. Rounded down to "
    "0.1%."
)
REVENUE_DEFINITION = (
    "For each day (IST) the amounts of the payments captured that day, less the processed refunds of those payments, "
    "whenever the refund was processed. Pending and failed refunds are not subtracted."
)


@never_cache
@require_safe
@staff_member_required  # the admin's own session check: non-staff and anonymous go to the admin login
def dashboard_view(request: HttpRequest) -> HttpResponse:
    window = selectors.dashboard_window()
    outcomes = selectors.payment_outcomes(window=window)
    revenue = selectors.revenue_by_day(window=window)
    period = f"{window.first_day:%d %b %Y} to {window.last_day:%d %b %Y} (IST)"
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "period": period,
        "outcomes": outcomes,
        "success_rate": percent_from_permille(outcomes.success_permille),
        "success_rate_definition": SUCCESS_RATE_DEFINITION,
        "revenue_definition": REVENUE_DEFINITION,
        "success_rows": [{"day": day, "rate": percent_from_permille(day.success_permille)} for day in outcomes.by_day],
        **_revenue_tables(revenue),
        "states_chart": _states_chart(outcomes, period=period),
        "success_chart": _success_chart(outcomes, period=period),
        "revenue_chart": _revenue_chart(revenue, period=period),
    }
    return render(request, "dashboard/dashboard.html", context)


def _states_chart(outcomes: selectors.PaymentOutcomes, *, period: str) -> BarChart:
    return row_chart(
        slug="states",
        title="Payments per state",
        description=f"{outcomes.total} payments created {period}, by their state now.",
        points=[Point(label=state, full_label=state, value=n, text=str(n)) for state, n in outcomes.by_state.items()],
    )


def _success_chart(outcomes: selectors.PaymentOutcomes, *, period: str) -> BarChart:
    return column_chart(
        slug="success",
        title="Capture success rate per day",
        description=f"Capture success rate of the payments created each day {period}; "
        f"{percent_from_permille(outcomes.success_permille)} over the whole period.",
        points=[
            Point(
                label=str(day.day.day),
                full_label=f"{day.day:%a %d %b %Y}",
                value=day.success_permille or 0,
                text=f"{percent_from_permille(day.success_permille)} ({day.captured} of {day.outcomes})",
            )
            for day in outcomes.by_day
        ],
        scale_max=1000,
    )


def _revenue_chart(revenue: list[selectors.DayRevenue], *, period: str) -> BarChart:
    total_net = sum(day.net for day in revenue)
    return column_chart(
        slug="revenue",
        title="Revenue per day",
        description=f"Net revenue per day {period}: {rupees(total_net)} in all.",
        points=[
            Point(
                label=str(day.day.day), full_label=f"{day.day:%a %d %b %Y}", value=max(day.net, 0), text=rupees(day.net)
            )
            for day in revenue
        ],
    )


def _revenue_tables(revenue: list[selectors.DayRevenue]) -> dict[str, object]:
    """The revenue table's rows and its total row, in rupees."""
    return {
        "revenue_rows": [
            {"day": day, "gross": rupees(day.gross), "refunded": rupees(day.refunded), "net": rupees(day.net)}
            for day in revenue
        ],
        "revenue_total": {
            "captured_count": sum(day.captured_count for day in revenue),
            "gross": rupees(sum(day.gross for day in revenue)),
            "refunded": rupees(sum(day.refunded for day in revenue)),
            "net": rupees(sum(day.net for day in revenue)),
        },
    }
