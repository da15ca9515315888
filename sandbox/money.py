"""Amounts as the hosted pages show them: paise as rupees with Indian digit grouping (₹1,23,456.00)."""

from __future__ import annotations


def rupees(paise: int) -> str:
    """₹ and the rupees grouped en-IN style: the last three digits, then pairs. Integer arithmetic only."""
    sign = "-" if paise < 0 else ""
    whole, fraction = divmod(abs(paise), 100)
    digits = str(whole)
    head, tail = digits[:-3], digits[-3:]
    pairs = []
    while len(head) > 2:
        pairs.insert(0, head[-2:])
        head = head[:-2]
    grouped = ",".join(([head] if head else []) + pairs + [tail])
    return f"{sign}₹{grouped}.{fraction:02d}"
