"""Money is integer paise. Paise is the one value type for it, and the only place rupees become paise."""

from __future__ import annotations

from dataclasses import dataclass

CURRENCY = "INR"


@dataclass(frozen=True, slots=True, order=True)
class Paise:
    value: int

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise TypeError(f"Paise takes an int, not {type(self.value).__name__}")

    @classmethod
    def from_rupees(cls, rupees: int) -> Paise:
        """Whole rupees to paise (demo data and docs). Fractions of a rupee are given in paise directly."""
        return cls(int(rupees) * 100)

    def __add__(self, other: Paise) -> Paise:
        return Paise(self.value + other.value)

    def __sub__(self, other: Paise) -> Paise:
        return Paise(self.value - other.value)

    def times(self, quantity: int) -> Paise:
        return Paise(self.value * quantity)

    def percent(self, basis_points: int) -> Paise:
        """`basis_points`/10000 of this amount, rounded half up to the paisa, in integers only."""
        return Paise((self.value * basis_points + 5000) // 10000)

    def __int__(self) -> int:
        return self.value

    def __str__(self) -> str:
        return f"₹{self.value // 100}.{self.value % 100:02d}"


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
    """Integer paise as rupees with Indian digit grouping: 12345600 -> "₹1,23,456.00". Integers only, never a float;
    negative amounts keep their sign in front."""
    if isinstance(paise, bool) or not isinstance(paise, int):
        raise TypeError(f"rupees() takes integer paise, not {type(paise).__name__}")
    sign = "-" if paise < 0 else ""
    whole, fraction = divmod(abs(paise), 100)
    return f"{sign}₹{group_indian(whole)}.{fraction:02d}"
