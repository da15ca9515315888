"""How the dashboard writes numbers: rupees from integer paise with Indian digit grouping, rates from per-mille.
Integer arithmetic only, so no amount is ever rounded through a float."""

from __future__ import annotations

from payfirst.core.money import group_indian, rupees

__all__ = ["group_indian", "percent_from_permille", "rupees"]


def percent_from_permille(permille: int | None) -> str:
    """875 -> "87.5%"; None (nothing to divide by) -> "n/a"."""
    if permille is None:
        return "n/a"
    return f"{permille // 10}.{permille % 10}%"
