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
