"""What a payment holds in the catalog's counters (stock units per variant, places per slot), and giving it back.

The counters themselves change only through catalog/inventory.py; this module works out the amounts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from payfirst.cart.pricing import PricedCart
from payfirst.cart.services import release_promo_use
from payfirst.catalog.inventory import change_holds
from payfirst.fulfilment.services import FulfilmentLine
from payfirst.payments.models import Payment, PaymentLine, ReservationState
from payfirst.payments.states import transition


def holds_of_priced(priced: PricedCart) -> tuple[dict[int, int], dict[int, int]]:
    variants: Counter[int] = Counter()
    slots: Counter[int] = Counter()
    for line in priced.lines:
        if line.variant_id is not None:
            variants[line.variant_id] += line.quantity
        if line.slot_id is not None:
            slots[line.slot_id] += line.quantity
    return dict(variants), dict(slots)


def holds_of_payment(payment_id: int) -> tuple[dict[int, int], dict[int, int]]:
    """What a payment's lines hold in the catalog counters (one query)."""
    return _holds_of_rows(
        PaymentLine.objects.filter(payment_id=payment_id).values_list("variant_id", "slot_id", "quantity")
    )


def holds_of_lines(lines: Iterable[FulfilmentLine]) -> tuple[dict[int, int], dict[int, int]]:
    """The same, from lines already read (no query)."""
    return _holds_of_rows((line.variant_id, line.slot_id, line.quantity) for line in lines)


def _holds_of_rows(rows: Iterable[tuple[int | None, int | None, int]]) -> tuple[dict[int, int], dict[int, int]]:
    variants: Counter[int] = Counter()
    slots: Counter[int] = Counter()
    for variant_id, slot_id, quantity in rows:
        if variant_id is not None:
            variants[variant_id] += quantity
        if slot_id is not None:
            slots[slot_id] += quantity
    return dict(variants), dict(slots)


def negated(amounts: Mapping[int, int]) -> dict[int, int]:
    return {pk: -amount for pk, amount in amounts.items()}


def net(taken: Mapping[int, int], given_back: Mapping[int, int]) -> dict[int, int]:
    """Per row: what a new payment takes less what the payment it replaces gives back."""
    return {pk: taken.get(pk, 0) - given_back.get(pk, 0) for pk in taken.keys() | given_back.keys()}


def release_and_move(
    *,
    payment: Payment,
    to: str,
    source: str,
    detail: str,
    actor_id: int | None = None,
    payload: Mapping[str, Any] | None = None,
    fields: Mapping[str, Any] | None = None,
) -> None:
    """Give back what the (locked) payment holds (stock, places, its promo code's use) and move it to `to`, in the
    caller's transaction."""
    fields = dict(fields or {})
    if payment.reservation == ReservationState.HELD:
        variants, slots = holds_of_payment(payment.pk)
        change_holds(variants=negated(variants), slots=negated(slots))
        if payment.promo_id is not None:
            release_promo_use(promo_id=payment.promo_id, payment_reference=payment.reference)
        fields["reservation"] = ReservationState.RELEASED
    transition(payment=payment, to=to, source=source, detail=detail, actor_id=actor_id, payload=payload, fields=fields)
