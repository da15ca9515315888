"""The tax arithmetic as properties: a discount spread over tax-inclusive lines, tax taken out of each line, always
adds up to the amount paid to the paisa; credit notes in any number of parts reverse each line's taxes exactly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from payfirst.invoices.tax import TaxSplit, credited_split, paise_text, rate_text, split_inclusive, spread

RATES = st.sampled_from([0, 25, 300, 500, 1200, 1800, 2800, 4000])
AMOUNTS = st.lists(st.integers(min_value=1, max_value=50_000_000), min_size=1, max_size=12)


@given(amounts=AMOUNTS, data=st.data())
def test_a_spread_discount_and_the_taxes_add_up_to_the_amount_paid(amounts, data):
    discount = data.draw(st.integers(min_value=0, max_value=sum(amounts)))
    rates = data.draw(st.lists(RATES, min_size=len(amounts), max_size=len(amounts)))
    intra = data.draw(st.booleans())
    shares = spread(amount=discount, weights=amounts)
    assert sum(shares) == discount and all(0 <= s <= a for s, a in zip(shares, amounts, strict=True))
    splits = [
        split_inclusive(value=amount - share, rate=rate, intra_state=intra)
        for amount, share, rate in zip(amounts, shares, rates, strict=True)
    ]
    # Lines add up to the document, the document to what was paid.
    assert sum(split.total for split in splits) == sum(amounts) - discount
    for split, amount, share, rate in zip(splits, amounts, shares, rates, strict=True):
        value = amount - share
        assert split.total == value
        # The taxable value is the exact quotient rounded to the nearest paisa.
        assert abs(split.taxable_value * (10000 + rate) - value * 10000) <= (10000 + rate) // 2
        if intra:
            assert split.igst == 0 and split.sgst - split.cgst in (0, 1)
        else:
            assert split.cgst == split.sgst == 0


@given(
    value=st.integers(min_value=1, max_value=10_000_000),
    rate=RATES,
    intra=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000_000), max_size=6),
)
def test_credits_in_parts_reverse_a_line_exactly(value, rate, intra, cuts):
    original = split_inclusive(value=value, rate=rate, intra_state=intra)
    points = sorted({0, value, *(cut % (value + 1) for cut in cuts)})
    parts = [credited_split(original=original, before=a, after=b) for a, b in zip(points, points[1:], strict=False)]
    assert all(part.total == b - a for part, (a, b) in zip(parts, zip(points, points[1:], strict=False), strict=True))
    assert all(min(part.taxable_value, part.cgst, part.sgst, part.igst) >= 0 for part in parts)
    summed = TaxSplit(
        taxable_value=sum(p.taxable_value for p in parts),
        cgst=sum(p.cgst for p in parts),
        sgst=sum(p.sgst for p in parts),
        igst=sum(p.igst for p in parts),
    )
    assert summed == original


def test_the_worked_example_in_the_docs():
    # ₹449 at 5 % intra-state: taxable 427.62, tax 21.38 split 10.69 + 10.69.
    assert split_inclusive(value=44900, rate=500, intra_state=True) == TaxSplit(42762, 1069, 1069, 0)
    # ₹1,299 at 18 % inter-state: taxable 1,100.85, IGST 198.15.
    assert split_inclusive(value=129900, rate=1800, intra_state=False) == TaxSplit(110085, 0, 0, 19815)
    assert split_inclusive(value=210000, rate=0, intra_state=True, exempt=True) == TaxSplit(210000, 0, 0, 0)


def test_texts():
    assert rate_text(1800) == "18.00" and rate_text(250) == "2.50" and rate_text(0) == "0.00"
    assert paise_text(12345678) == "1,23,456.78" and paise_text(99) == "0.99" and paise_text(100000) == "1,000.00"
