"""How the dashboard writes numbers: rupees from integer paise with Indian digit grouping, rates from per-mille.
Integer arithmetic only, so no amount is ever rounded through a float."""

from __future__ import annotations


def group_indian(whole: int) -> str:
    """12345678 -> "1,23,45,678": the last three digits, then pairs (lakh, crore)."""
    digits = str(whole)
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    pairs: list[str] = []
    while len(head) > 2:
        head, pair = head[:-2], head[-2:]
        pairs.insert(0, pair)
    return ",".join([head, *pairs, tail])


def rupees(paise: int) -> str:
    """123456789 -> "₹12,34,567.89"; negative amounts keep their sign in front."""
    sign = "-" if paise < 0 else ""
    whole, fraction = divmod(abs(paise), 100)
    return f"{sign}₹{group_indian(whole)}.{fraction:02d}"


def percent_from_permille(permille: int | None) -> str:
    """875 -> "87.5%"; None (nothing to divide by) -> "n/a"."""
    if permille is None:
        return "n/a"
    return f"{permille // 10}.{permille % 10}%"
