"""Rupees from paise and rates from per-mille, written with integer arithmetic only."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payfirst.dashboard.display import group_indian, percent_from_permille, rupees


@pytest.mark.parametrize(
    ("paise", "text"),
    [
        (0, "₹0.00"),
        (5, "₹0.05"),
        (99_900, "₹999.00"),
        (100_000, "₹1,000.00"),
        (12_345_678, "₹1,23,456.78"),
        (123_456_789, "₹12,34,567.89"),
        (10_000_000_000, "₹10,00,00,000.00"),  # ten crore
        (-30_050, "-₹300.50"),
    ],
)
def test_rupees_writes_indian_grouping_from_paise(paise, text):
    assert rupees(paise) == text


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_rupees_reads_back_to_the_same_paise(paise):
    text = rupees(paise)
    whole, fraction = text.lstrip("-").removeprefix("₹").replace(",", "").split(".")
    assert (int(whole) * 100 + int(fraction)) * (-1 if text.startswith("-") else 1) == paise
    groups = text.lstrip("-").removeprefix("₹").split(".")[0].split(",")
    assert len(groups[-1]) <= 3 and all(len(g) == 2 for g in groups[1:-1])


def test_group_indian_short_numbers_have_no_separator():
    assert [group_indian(n) for n in (0, 7, 999)] == ["0", "7", "999"]


@pytest.mark.parametrize(("permille", "text"), [(None, "n/a"), (0, "0.0%"), (444, "44.4%"), (1000, "100.0%")])
def test_percent_from_permille(permille, text):
    assert percent_from_permille(permille) == text
