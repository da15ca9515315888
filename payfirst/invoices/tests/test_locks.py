"""invoices/locks.py: each line's code and its class's rate on the day of supply, in one statement (run on the
connected database: the suite runs on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from payfirst.invoices.locks import LineTax, line_taxes
from payfirst.invoices.tests.inputs import RATE_CHANGE, brassware, ceremony, tax_class
from payfirst.testing import factories

pytestmark = pytest.mark.django_db


def test_each_row_gets_its_code_and_the_rate_in_force_that_day_in_one_statement(django_assert_num_queries):
    brass = factories.make_variant(hsn_sac="7419", tax_class=brassware())
    puja = factories.make_package(hsn_sac="999799", tax_class=ceremony())
    plan = factories.make_plan()  # no tax class
    later = factories.make_variant(tax_class=tax_class("new", (RATE_CHANGE, 1800, False)))
    ids = {"variant_id": [brass.pk, later.pk, 10**9], "package_id": [puja.pk], "plan_id": [plan.pk]}
    day_before = RATE_CHANGE - timedelta(days=1)
    with django_assert_num_queries(1):
        before = line_taxes(ids=ids, day=day_before)
    after = line_taxes(ids=ids, day=RATE_CHANGE)
    assert before[("variant_id", brass.pk)] == LineTax(hsn_sac="7419", rate=1200, exempt=False)
    assert after[("variant_id", brass.pk)] == LineTax(hsn_sac=brass.hsn_sac, rate=500, exempt=False)
    assert before[("variant_id", later.pk)].rate is None and after[("variant_id", later.pk)].rate == 1800
    assert after[("package_id", puja.pk)] == LineTax(hsn_sac="999799", rate=0, exempt=True)
    assert after[("plan_id", plan.pk)] == LineTax(hsn_sac=plan.hsn_sac, rate=None, exempt=False)
    assert ("variant_id", 10**9) not in after and len(after) == 4


def test_no_rows_asked_for_is_no_statement(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert line_taxes(ids={"variant_id": []}, day=date(2026, 1, 1)) == {}
