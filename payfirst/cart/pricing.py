"""Prices a cart from the catalog as it is now, applies its promo code, and splits the discount over the lines.

Nothing price-like is stored on a cart line or taken from a client. All amounts are integer paise; the per-line
discounts add up to the cart discount exactly (largest remainder), so the lines add up to the cart total.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time

from django.utils import timezone

from payfirst.cart.models import Cart, CartItem, PromoCode, PromoKind, PromoRedemption, RedemptionState
from payfirst.cart.selectors import OwnHolds, cart_items_for_pricing, own_holds
from payfirst.catalog.models import LineKind
from payfirst.core.money import Paise

MAX_PRODUCT_QUANTITY = 99


@dataclass(frozen=True)
class PricedLine:
    item_id: int
    kind: str  # "product" | "service" | "plan"
    variant_id: int | None
    package_id: int | None
    slot_id: int | None
    plan_code: str | None
    name: str  # "Brass Diya — Large", "Satyanarayan Puja — Standard", "Monthly Plan"
    sku: str | None
    selected_date: date | None
    selected_time: time | None
    quantity: int
    unit_price: int  # paise, the catalog's price now
    line_total: int  # unit_price * quantity
    discount: int  # this line's share of the cart discount
    total: int  # line_total - discount
    # What a front end needs to render the line without another call.
    product_name: str | None = None
    variant_name: str | None = None
    service_id: int | None = None
    service_name: str | None = None
    package_name: str | None = None
    duration_days: int | None = None
    # Both count back in what this cart's own pending payment holds: a new checkout gives that back first.
    stock: int | None = None  # product lines: units this cart can have now (on hand minus others' reservations)
    slot_remaining: int | None = None  # service lines: places left in the slot for this cart now
    available: bool = True  # False: not enough stock or places right now, so checkout would answer 409
    devotee_name: str = ""  # service lines: who the service is for
    note: str = ""  # service lines: the customer's note (gotra, occasion)


@dataclass(frozen=True)
class PricedCart:
    cart: Cart
    lines: tuple[PricedLine, ...]
    subtotal: int
    discount: int
    total: int
    promo: PromoCode | None  # the code still valid for this cart (None if none or dropped)
    promo_notice: str  # why a code dropped off ("" if none)
    # Lines whose catalog entry is gone for good (no longer sold, slot passed): left out of `lines` and the totals.
    dropped_item_ids: tuple[int, ...] = ()
    notices: tuple[str, ...] = ()  # one sentence per dropped line, for the customer
    promo_dropped: bool = False  # the cart's code is no longer valid for it (promo_problem says why)
    promo_problem: str = ""

    @property
    def items_count(self) -> int:
        """Units in the cart: the sum of the line quantities (service and plan lines count 1 each)."""
        return sum(line.quantity for line in self.lines)

    @property
    def needs_settling(self) -> bool:
        """True when the stored cart still holds something this pricing dropped."""
        return bool(self.dropped_item_ids) or self.promo_dropped


def promo_discount(*, promo: PromoCode, eligible_subtotal: int) -> int:
    """The discount a code gives on `eligible_subtotal` paise: percentages round half up to the paisa, are capped by
    `max_discount`, and no discount exceeds the amount it applies to."""
    if promo.kind == PromoKind.PERCENT:
        amount = Paise(eligible_subtotal).percent(promo.percent_bp).value
        if promo.max_discount is not None:
            amount = min(amount, promo.max_discount)
    else:
        amount = promo.flat_amount
    return max(0, min(amount, eligible_subtotal))


def split_discount(*, discount: int, amounts: Sequence[int]) -> list[int]:
    """Split `discount` over `amounts` in proportion, in integers, by largest remainder (ties to the earlier line).

    The shares add up to `discount` exactly; with `discount <= sum(amounts)` no share exceeds its amount.
    """
    total = sum(amounts)
    if discount <= 0 or total <= 0:
        return [0] * len(amounts)
    shares = [discount * amount // total for amount in amounts]
    remainders = [discount * amount % total for amount in amounts]
    leftover = discount - sum(shares)
    # Python's sort is stable, so among equal remainders the earlier line comes first.
    for index in sorted(range(len(amounts)), key=lambda i: -remainders[i])[:leftover]:
        shares[index] += 1
    return shares


def promo_problem(*, promo: PromoCode, lines: Sequence[PricedLine], uses_by_user: int, now: datetime) -> str:
    """Why `promo` cannot apply to a cart holding `lines` right now, as a sentence; "" when it can."""
    label = f"Promo code {promo.code}"
    if not promo.is_active:
        return f"{label} is no longer active."
    if promo.valid_from is not None and now < promo.valid_from:
        return f"{label} is not valid yet."
    if promo.valid_until is not None and now >= promo.valid_until:
        return f"{label} has expired."
    if promo.max_uses is not None and promo.uses_count >= promo.max_uses:
        return f"{label} has been used up."
    if promo.max_uses_per_user is not None and uses_by_user >= promo.max_uses_per_user:
        return f"You have already used promo code {promo.code} as often as it allows."
    eligible = [line for line in lines if not promo.applies_to or line.kind == promo.applies_to]
    if not eligible:
        if promo.applies_to:
            return f"{label} applies only to {promo.applies_to} lines, and your cart has none."
        return f"{label} needs something in your cart."
    eligible_subtotal = sum(line.line_total for line in eligible)
    if eligible_subtotal < promo.min_subtotal:
        on_what = f" on {promo.applies_to} lines" if promo.applies_to else ""
        return f"{label} needs a subtotal of at least {Paise(promo.min_subtotal)}{on_what}."
    return ""


def slot_starts_at(*, slot_date: date, slot_time: time) -> datetime:
    """A slot's start as an aware datetime in the project's TIME_ZONE (Asia/Kolkata), where slots are given."""
    return timezone.make_aware(datetime.combine(slot_date, slot_time), timezone.get_default_timezone())


def _gone_reason(item: CartItem, *, now: datetime) -> str:
    """Why a line can never be bought again as it is ("" if it still can)."""
    if item.kind == LineKind.PRODUCT:
        variant = item.variant
        if not (variant.is_active and variant.product.is_active):
            return f"{variant.product.name} — {variant.name} is no longer sold and was removed from your cart."
        return ""
    if item.kind == LineKind.SERVICE:
        package, slot = item.package, item.slot
        name = f"{package.service.name} — {package.name}"
        if not (package.is_active and package.service.is_active):
            return f"{name} is no longer offered and was removed from your cart."
        when = f"{slot.date:%Y-%m-%d} {slot.time:%H:%M}"
        if not slot.is_active or slot.service_id != package.service_id:
            return f"The {when} slot for {name} is no longer offered; the line was removed from your cart."
        if slot_starts_at(slot_date=slot.date, slot_time=slot.time) <= now:
            return f"The {when} slot for {name} has passed; the line was removed from your cart."
        return ""
    plan = item.plan
    if not plan.is_active:
        return f"{plan.name} is no longer offered and was removed from your cart."
    return ""


def _line(item: CartItem, *, seats_in_cart: Counter[int], holds: OwnHolds) -> PricedLine:
    """The line at today's catalog price, before any discount."""
    if item.kind == LineKind.PRODUCT:
        return _product_line(item, holds=holds)
    if item.kind == LineKind.SERVICE:
        return _service_line(item, seats_in_cart=seats_in_cart, holds=holds)
    return _plan_line(item)


def _product_line(item: CartItem, *, holds: OwnHolds) -> PricedLine:
    variant = item.variant
    stock = variant.available + holds.units[variant.pk]
    return PricedLine(
        item_id=item.pk,
        kind=item.kind,
        variant_id=variant.pk,
        package_id=None,
        slot_id=None,
        plan_code=None,
        name=f"{variant.product.name} — {variant.name}",
        sku=variant.sku,
        selected_date=None,
        selected_time=None,
        quantity=item.quantity,
        unit_price=variant.price,
        line_total=variant.price * item.quantity,
        discount=0,
        total=variant.price * item.quantity,
        product_name=variant.product.name,
        variant_name=variant.name,
        stock=stock,
        available=stock >= item.quantity,
    )


def _service_line(item: CartItem, *, seats_in_cart: Counter[int], holds: OwnHolds) -> PricedLine:
    package, slot = item.package, item.slot
    remaining = slot.remaining + holds.places[slot.pk]
    return PricedLine(
        item_id=item.pk,
        kind=item.kind,
        variant_id=None,
        package_id=package.pk,
        slot_id=slot.pk,
        plan_code=None,
        name=f"{package.service.name} — {package.name}",
        sku=None,
        selected_date=slot.date,
        selected_time=slot.time,
        quantity=1,
        unit_price=package.price,
        line_total=package.price,
        discount=0,
        total=package.price,
        service_id=package.service_id,
        service_name=package.service.name,
        package_name=package.name,
        slot_remaining=remaining,
        available=remaining >= seats_in_cart[slot.pk],
        devotee_name=item.devotee_name,
        note=item.note,
    )


def _plan_line(item: CartItem) -> PricedLine:
    plan = item.plan
    return PricedLine(
        item_id=item.pk,
        kind=item.kind,
        variant_id=None,
        package_id=None,
        slot_id=None,
        plan_code=plan.code,
        name=plan.name,
        sku=None,
        selected_date=None,
        selected_time=None,
        quantity=1,
        unit_price=plan.price,
        line_total=plan.price,
        discount=0,
        total=plan.price,
        duration_days=plan.duration_days,
    )


def _with_discounts(lines: Sequence[PricedLine], shares: Iterable[int]) -> tuple[PricedLine, ...]:
    return tuple(
        replace(line, discount=share, total=line.line_total - share) for line, share in zip(lines, shares, strict=True)
    )


def price_cart(*, cart: Cart) -> PricedCart:
    """Price `cart` from the catalog now. Reads only, in a fixed number of queries: the lines with their catalog rows,
    what the cart's own pending payment holds, the promo code and (for a per-user limit) the user's uses of it.
    (`GET /api/cart/` reads the same in one statement: `snapshot.cart_snapshot`, then `price_lines`.)
    """
    promo = PromoCode.objects.filter(pk=cart.promo_id).first() if cart.promo_id else None
    uses_by_user = 0
    if promo is not None and promo.max_uses_per_user is not None:
        # Captured uses only: the customer's own pending payment holding a use must not drop the code from the very
        # cart it is paying for (checkout counts holds too, when it takes its own).
        uses_by_user = PromoRedemption.objects.filter(
            promo=promo, user_id=cart.user_id, state=RedemptionState.FINAL
        ).count()
    return price_lines(
        cart=cart,
        items=list(cart_items_for_pricing(cart=cart)),
        holds=own_holds(cart=cart),
        promo=promo,
        uses_by_user=uses_by_user,
    )


def price_lines(
    *, cart: Cart, items: Sequence[CartItem], holds: OwnHolds, promo: PromoCode | None, uses_by_user: int
) -> PricedCart:
    """Price the cart's `items` (in id order, catalog rows read) with what its own pending payment `holds`, its
    `promo` code and the user's captured uses of it. Never writes.

    Lines whose variant, package, service or plan is no longer active, or whose slot has passed, are left out
    (`dropped_item_ids`, with a notice each); a promo code that is no longer valid for what remains is left out
    too (`promo_dropped`, `promo_notice`). The services persist both.
    """
    now = timezone.now()
    kept: list[CartItem] = []
    dropped: list[int] = []
    notices = list(cart.notices or [])
    for item in items:
        reason = _gone_reason(item, now=now)
        if reason:
            dropped.append(item.pk)
            notices.append(reason)
        else:
            kept.append(item)
    seats_in_cart = Counter(item.slot_id for item in kept if item.kind == LineKind.SERVICE)
    lines = [_line(item, seats_in_cart=seats_in_cart, holds=holds) for item in kept]
    subtotal = sum(line.line_total for line in lines)
    problem = promo_problem(promo=promo, lines=lines, uses_by_user=uses_by_user, now=now) if promo else ""
    if promo is None or problem:
        priced_lines, discount = tuple(lines), 0
        notice = f"{problem} It was removed from your cart." if problem else cart.promo_notice
    else:
        priced_lines = _discounted(lines, promo=promo)
        discount = sum(line.discount for line in priced_lines)  # split_discount's shares add up to it exactly
        notice = ""
    return PricedCart(
        cart=cart,
        lines=priced_lines,
        subtotal=subtotal,
        discount=discount,
        total=subtotal - discount,
        promo=None if problem else promo,
        promo_notice=notice,
        dropped_item_ids=tuple(dropped),
        notices=tuple(notices),
        promo_dropped=bool(problem),
        promo_problem=problem,
    )


def _discounted(lines: Sequence[PricedLine], *, promo: PromoCode) -> tuple[PricedLine, ...]:
    """The lines with the code's discount split over those it applies to."""
    eligible = [i for i, line in enumerate(lines) if not promo.applies_to or line.kind == promo.applies_to]
    discount = promo_discount(promo=promo, eligible_subtotal=sum(lines[i].line_total for i in eligible))
    eligible_shares = split_discount(discount=discount, amounts=[lines[i].line_total for i in eligible])
    shares = [0] * len(lines)
    for index, share in zip(eligible, eligible_shares, strict=True):
        shares[index] = share
    return _with_discounts(lines, shares)
