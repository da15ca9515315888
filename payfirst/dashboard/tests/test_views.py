"""The staff dashboard page: who may see it, the numbers it shows, its SVG charts and its fixed query count."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from payfirst.dashboard.charts import PLOT_HEIGHT
from payfirst.dashboard.tests.conftest import ist, seed_payment
from payfirst.payments.models import RefundStatus
from payfirst.payments.states import PaymentStatus

pytestmark = pytest.mark.django_db

URL = "/admin/dashboard/"
SVG = "{http://www.w3.org/2000/svg}"


def svg(html: str, chart_id: str) -> ET.Element:
    match = re.search(rf'<svg[^>]*id="{chart_id}".*?</svg>', html, re.S)
    assert match, f"no <svg id={chart_id}> in the page"
    return ET.fromstring(match.group(0))


def child(element: ET.Element, tag: str) -> ET.Element:
    found = element.find(f"{SVG}{tag}")
    assert found is not None, f"no <{tag}> in <{element.tag}>"
    return found


def text_of(element: ET.Element, tag: str) -> str:
    return child(element, tag).text or ""


def first_group(pattern: str, text: str) -> str:
    """The first group of `pattern`'s first match in `text` (dot matches newlines)."""
    match = re.search(pattern, text, re.S)
    assert match, f"{pattern!r} not found"
    return match.group(1)


def bars(chart: ET.Element) -> list[tuple[str, int]]:
    """(the bar's title, its height) for each bar, in order."""
    return [(text_of(group, "title"), int(child(group, "rect").get("height", ""))) for group in chart.iter(f"{SVG}g")]


@pytest.fixture
def staff_browser(client, staff_user):
    client.force_login(staff_user)
    return client


def test_anonymous_is_sent_to_the_admin_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={URL}"


def test_signed_in_customer_is_sent_to_the_admin_login(client, user, seeded):
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert b"Revenue" not in response.content


def test_dashboard_refuses_writes(staff_browser):
    assert staff_browser.post(URL).status_code == 405


def test_admin_index_links_to_the_dashboard(staff_browser):
    response = staff_browser.get("/admin/")
    assert response.status_code == 200
    assert f'href="{URL}"' in response.content.decode()


def test_staff_sees_payments_per_state_and_the_success_rate(staff_browser, seeded):
    response = staff_browser.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    shown = dict(re.findall(r'data-state="([A-Z_]+)">(\d+)<', html))
    assert {state: int(n) for state, n in shown.items()} == seeded.by_state
    assert '<p class="dashboard-rate" id="success-rate">44.4%</p>' in html
    assert "4 captured of 9 payments with an outcome" in html
    assert "SUPERSEDED (replaced by a newer payment for the same cart" in html  # the definition is on the page

    states = bars(svg(html, "states-chart"))
    assert [title for title, _ in states] == [f"{state}: {n}" for state, n in seeded.by_state.items()]


def test_staff_sees_revenue_per_day_in_rupees(staff_browser, seeded):
    html = staff_browser.get(URL).content.decode()
    revenue_table = html[html.index('<table id="revenue-table">') :]
    row = first_group(r'<tr data-day="2026-03-11">(.*?)</tr>', revenue_table)
    assert re.findall(r'<td class="num">([^<]*)</td>', row) == ["1", "₹2,000.00", "₹300.00", "₹1,700.00"]
    total = first_group(r'<tr id="revenue-total">(.*?)</tr>', html)
    # 12,345 + 150,050 + 200,000 + 40,000 captured; 30,000 + 40,000 refunded.
    assert re.findall(r'<td class="num">([^<]*)</td>', total) == ["5", "₹4,023.95", "₹700.00", "₹3,323.95"]


def test_revenue_chart_has_one_bar_per_day_scaled_to_the_best_day(staff_browser, seeded):
    chart = svg(staff_browser.get(URL).content.decode(), "revenue-chart")
    assert chart.get("role") == "img"
    assert text_of(chart, "title") == "Revenue per day"
    assert "₹3,323.95 in all" in text_of(chart, "desc")

    drawn = bars(chart)
    assert len(drawn) == 30
    by_title = dict(drawn)
    assert by_title[f"{date(2026, 3, 11):%a %d %b %Y}: ₹1,700.00"] == PLOT_HEIGHT  # the best day fills the plot
    assert by_title[f"{date(2026, 3, 10):%a %d %b %Y}: ₹1,500.50"] == 150_050 * PLOT_HEIGHT // 170_000
    assert by_title[f"{date(2026, 3, 12):%a %d %b %Y}: ₹0.00"] == 0  # captured and fully refunded
    assert by_title[f"{date(2026, 2, 14):%a %d %b %Y}: ₹123.45"] == 12_345 * PLOT_HEIGHT // 170_000
    assert drawn[0][0].startswith(f"{date(2026, 2, 14):%a %d %b %Y}")
    assert drawn[-1][0].startswith(f"{date(2026, 3, 15):%a %d %b %Y}")


def test_page_has_no_script(staff_browser, seeded):
    html = staff_browser.get(URL).content.decode()
    content = html[html.index('<div id="content-main">') :]
    assert "<script" not in content
    assert "http://" not in content.replace("http://www.w3.org/2000/svg", "")


def _page_queries(client) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(URL).status_code == 200
    return [query["sql"] for query in queries.captured_queries]


def test_page_query_count_does_not_grow_with_the_data(staff_browser, seeded, user):
    small = _page_queries(staff_browser)
    for n in range(60):
        day = 14 + n % 15
        month, day = (2, day) if day <= 28 else (3, day - 28)
        seed_payment(
            user=user,
            status=(PaymentStatus.CAPTURED, PaymentStatus.FAILED, PaymentStatus.PARTIALLY_REFUNDED)[n % 3],
            amount=1_000 + n,
            created_at=ist(month, day, 10),
            captured_at=ist(month, day, 11) if n % 3 != 1 else None,
            refunds=((RefundStatus.PROCESSED, 100),) if n % 3 == 2 else (),
        )
    large = _page_queries(staff_browser)
    assert len(large) == len(small)
    # The session, the user, two grouped data queries, and the user's and groups' permissions for the admin's menu.
    assert len(small) == 6
    assert len([sql for sql in small if "payments_payment" in sql]) == 2


def test_success_rate_chart_has_one_bar_per_day_on_a_fixed_scale(staff_browser, seeded):
    drawn = dict(bars(svg(staff_browser.get(URL).content.decode(), "success-chart")))
    assert len(drawn) == 30

    def day(month: int, d: int) -> str:
        return f"{date(2026, month, d):%a %d %b %Y}"

    assert drawn[f"{day(3, 10)}: 100.0% (3 of 3)"] == PLOT_HEIGHT  # created late on the 10th IST counts there
    assert drawn[f"{day(3, 12)}: 50.0% (1 of 2)"] == PLOT_HEIGHT // 2
    assert drawn[f"{day(3, 14)}: 0.0% (0 of 1)"] == 0  # FLAGGED counts, SUPERSEDED does not
    assert drawn[f"{day(2, 14)}: 0.0% (0 of 1)"] == 0
    assert drawn[f"{day(3, 15)}: n/a (0 of 0)"] == 0  # only a PENDING payment so far


def test_success_rate_per_day_is_also_a_table(staff_browser, seeded):
    html = staff_browser.get(URL).content.decode()
    table = html[
        html.index('<table id="success-table">') : html.index('<section class="dashboard-section" id="payments')
    ]
    row = first_group(r'<tr data-day="2026-03-12">(.*?)</tr>', table)
    assert re.findall(r'<td class="num">([^<]*)</td>', row) == ["1", "2", "50.0%"]
    assert table.count("<tr data-day=") == 30
