"""The tax arithmetic, in integer paise, with no database: prices are tax-inclusive, so tax is taken out of each
line's value after its share of the discount.

Rounding rule (one rule, applied per line, so the lines add up to the document exactly):
  1. A line's value V = its price × quantity − its share of the discount (paise, tax included).
  2. Taxable value T = V × 10000 / (10000 + r), r the rate in basis points, rounded to the nearest paisa, halves up.
  3. Tax = V − T, so T + tax = V to the paisa, whatever the rate.
  4. Intra-state: CGST = ⌊tax / 2⌋ and SGST/UTGST = tax − CGST (the odd paisa, if any, goes to SGST/UTGST).
     Inter-state: IGST = tax.
  5. The document's taxable value and each tax are the sums of its lines' (never rounded again), so the document
     total is the sum of the line values, which is the amount paid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

BASIS = 10000  # basis points in 100 %


@dataclass(frozen=True, slots=True)
class TaxSplit:
    taxable_value: int
    cgst: int
    sgst: int
    igst: int

    @property
    def tax(self) -> int:
        return self.cgst + self.sgst + self.igst

    @property
    def total(self) -> int:
        return self.taxable_value + self.tax


def divide_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to the nearest integer, halves up (both non-negative)."""
    return (2 * numerator + denominator) // (2 * denominator)


def split_inclusive(*, value: int, rate: int, intra_state: bool, exempt: bool = False) -> TaxSplit:
    """Take the tax out of a tax-inclusive `value` (paise) at `rate` basis points (the module's rounding rule)."""
    if value < 0:
        raise ValueError("A line's value cannot be negative.")
    if exempt or rate == 0:
        return TaxSplit(taxable_value=value, cgst=0, sgst=0, igst=0)
    taxable = divide_half_up(value * BASIS, BASIS + rate)
    tax = value - taxable
    if intra_state:
        cgst = tax // 2
        return TaxSplit(taxable_value=taxable, cgst=cgst, sgst=tax - cgst, igst=0)
    return TaxSplit(taxable_value=taxable, cgst=0, sgst=0, igst=tax)


def spread(*, amount: int, weights: Sequence[int]) -> list[int]:
    """Split `amount` over `weights` in proportion, in integers, by largest remainder (ties to the earlier one).
    The shares add up to `amount` exactly; with `amount <= sum(weights)` no share exceeds its weight."""
    total = sum(weights)
    if amount <= 0 or total <= 0:
        return [0] * len(weights)
    shares = [amount * weight // total for weight in weights]
    remainders = [amount * weight % total for weight in weights]
    for index in sorted(range(len(weights)), key=lambda i: -remainders[i])[: amount - sum(shares)]:
        shares[index] += 1
    return shares


def credited_split(*, original: TaxSplit, before: int, after: int) -> TaxSplit:
    """The part of an invoice line that a credit moving its credited value from `before` to `after` paise reverses.

    Each tax is credited as the difference of its cumulative share, round(tax × credited / line value), so however a
    line is refunded in parts, the credit notes together reverse exactly its taxes once it is fully refunded."""
    value = original.total
    if not 0 <= before <= after <= value:
        raise ValueError("A credit must stay within the line's value.")
    if value == 0:
        return TaxSplit(taxable_value=0, cgst=0, sgst=0, igst=0)

    def upto(part: int, credited: int) -> int:
        return divide_half_up(part * credited, value)

    tax_before, tax_after = upto(original.tax, before), upto(original.tax, after)
    if original.igst:
        cgst = sgst = 0
        igst = tax_after - tax_before
    else:
        # CGST follows the same floor-half rule as the invoice, on the cumulative tax, so a full credit matches.
        cgst = tax_after // 2 - tax_before // 2
        sgst = (tax_after - tax_after // 2) - (tax_before - tax_before // 2)
        igst = 0
    tax = cgst + sgst + igst
    return TaxSplit(taxable_value=(after - before) - tax, cgst=cgst, sgst=sgst, igst=igst)


def rate_text(rate: int) -> str:
    """Basis points as a percent string with two decimals: 1800 → "18.00", 250 → "2.50"."""
    return f"{rate // 100}.{rate % 100:02d}"


def paise_text(amount: int) -> str:
    """Paise as rupees with Indian digit grouping: 12345678 → "1,23,456.78"."""
    sign = "-" if amount < 0 else ""
    rupees, paise = divmod(abs(amount), 100)
    digits = str(rupees)
    if len(digits) > 3:
        head, tail = digits[:-3], digits[-3:]
        groups: list[str] = []
        while len(head) > 2:
            groups.insert(0, head[-2:])
            head = head[:-2]
        if head:
            groups.insert(0, head)
        digits = ",".join([*groups, tail])
    return f"{sign}{digits}.{paise:02d}"
