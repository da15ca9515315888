"""`{% load money %}` then `{{ amount|rupees }}`: integer paise shown as ₹1,23,456.00 (Indian digit grouping)."""

from __future__ import annotations

from django import template

from payfirst.core.money import rupees as format_rupees

register = template.Library()


@register.filter
def rupees(paise: int | None) -> str:
    """Integer paise as rupees; None (no amount) as an empty string."""
    if paise is None or paise == "":
        return ""
    return format_rupees(int(paise))
