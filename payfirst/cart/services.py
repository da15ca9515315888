"""Changes to a cart. Each runs in one transaction holding the cart row lock, so concurrent changes queue up and the
quantity, stock and slot checks see the lines as they really are; then the cart is priced and settled.

Settling persists what pricing found gone (lines whose catalog entry ended, a promo code no longer valid), with a
notice for the customer, so the cart answer is exactly what a checkout will charge.
"""

from __future__ import annotations

from datetime import date, time
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from payfirst.accounts.authentication import DeferredUser
from payfirst.cart.errors import (
    CartItemNotFound,
    InsufficientStock,
    InvalidPromoCode,
    InvalidQuantity,
    SlotFull,
    SlotNotAvailable,
)
from payfirst.cart.models import Cart, CartItem, CartStatus, PromoCode, PromoRedemption, RedemptionState
from payfirst.cart.pricing import MAX_PRODUCT_QUANTITY, PricedCart, price_cart, price_lines, slot_starts_at
from payfirst.cart.selectors import get_active_cart, own_holds
from payfirst.cart.snapshot import cart_snapshot
from payfirst.catalog.models import LineKind, Plan, ServicePackage, Slot, Variant
from payfirst.core.errors import InvalidInput, InvalidState, NotFound

# A cart can be converted by a payment between our read and our lock; we then move on to the fresh cart.
_LOCK_ATTEMPTS = 3


def _lock_active_cart(*, user: Any) -> Cart:
    """The user's ACTIVE cart, row-locked until the surrounding transaction ends. Call inside transaction.atomic()."""
    for _ in range(_LOCK_ATTEMPTS):
        cart = get_active_cart(user=user)
        locked = Cart.objects.select_for_update().filter(pk=cart.pk, status=CartStatus.ACTIVE).first()
        if locked is not None:
            return locked
    raise InvalidState("Your cart changed while it was being updated. Please try again.")


def _start_change(cart: Cart) -> None:
    """A change by the customer starts with no notices: they are about what happened since the last change."""
    cart.notices = []
    cart.promo_notice = ""


def _persist(*, cart: Cart, priced: PricedCart) -> PricedCart:
    """Store what `priced` found: dropped lines deleted, the promo kept or dropped, the notices. Cart row locked."""
    if priced.dropped_item_ids:
        CartItem.objects.filter(cart=cart, pk__in=priced.dropped_item_ids).delete()
    cart.promo = priced.promo
    cart.promo_notice = priced.promo_notice[:255]
    cart.notices = list(priced.notices)
    cart.updated_at = timezone.now()
    Cart.objects.filter(pk=cart.pk).update(
        promo=cart.promo, promo_notice=cart.promo_notice, notices=cart.notices, updated_at=cart.updated_at
    )
    return priced


def _settle(*, cart: Cart) -> PricedCart:
    return _persist(cart=cart, priced=price_cart(cart=cart))


def _check_quantity(quantity: int, *, kind: str) -> None:
    if kind == LineKind.PRODUCT:
        if not 1 <= quantity <= MAX_PRODUCT_QUANTITY:
            raise InvalidQuantity(
                f"A product line holds 1 to {MAX_PRODUCT_QUANTITY} units.",
                fields={"quantity": [f"Must be 1 to {MAX_PRODUCT_QUANTITY}."]},
            )
    elif quantity != 1:
        raise InvalidQuantity(
            f"A {kind} line always holds exactly 1.", fields={"quantity": [f"A {kind} line holds exactly 1."]}
        )


def _check_stock(*, cart: Cart, variant: Variant, quantity: int) -> None:
    """Refuse more than can be bought now, counting back what this cart's own pending payment holds."""
    available = variant.available + own_holds(cart=cart).units[variant.pk]
    if quantity > available:
        raise InsufficientStock(
            f"Only {available} of {variant.product.name} — {variant.name} can be bought now; "
            f"your cart would hold {quantity}."
        )


def read_cart(*, user: Any) -> PricedCart:
    """`GET /api/cart/`: the user's ACTIVE cart priced now. Signed in with the row not read yet (`DeferredUser`), the
    user, the cart and everything pricing needs come in one statement (`snapshot.cart_snapshot`); a first visit (no
    cart yet) or a cart with something to settle goes the way every change goes."""
    if isinstance(user, DeferredUser):
        snapshot = cart_snapshot(user_id=user.token_user_id())
        user.supply(snapshot.user)
        if snapshot.cart is not None:
            priced = price_lines(
                cart=snapshot.cart,
                items=snapshot.items,
                holds=snapshot.holds,
                promo=snapshot.promo,
                uses_by_user=snapshot.promo_uses,
            )
            if not priced.needs_settling:
                return priced
    return refresh_cart(user=user)


def refresh_cart(*, user: Any) -> PricedCart:
    """The user's ACTIVE cart priced now (created on first use). Persists anything pricing dropped, under the lock."""
    priced = price_cart(cart=get_active_cart(user=user))
    if not priced.needs_settling:
        return priced
    with transaction.atomic():
        return _settle(cart=_lock_active_cart(user=user))


def add_product(*, user: Any, variant_id: int, quantity: int) -> PricedCart:
    """Add `quantity` units of a variant; adding a variant already in the cart adds to its line."""
    _check_quantity(quantity, kind=LineKind.PRODUCT)
    with transaction.atomic():
        cart = _lock_active_cart(user=user)
        variant = (
            Variant.objects.select_related("product")
            .filter(pk=variant_id, is_active=True, product__is_active=True)
            .first()
        )
        if variant is None:
            raise NotFound(f"There is no product variant {variant_id} for sale.")
        line = CartItem.objects.filter(cart=cart, kind=LineKind.PRODUCT, variant=variant).first()
        in_cart = line.quantity if line else 0
        if in_cart + quantity > MAX_PRODUCT_QUANTITY:
            raise InvalidQuantity(
                f"Your cart already holds {in_cart} of this item; a line holds at most {MAX_PRODUCT_QUANTITY}.",
                fields={"quantity": [f"At most {MAX_PRODUCT_QUANTITY - in_cart} more."]},
            )
        _check_stock(cart=cart, variant=variant, quantity=in_cart + quantity)
        if line is None:
            CartItem.objects.create(cart=cart, kind=LineKind.PRODUCT, variant=variant, quantity=quantity)
        else:
            # F() as well as the lock: the increment is computed by the database from the row as it is.
            CartItem.objects.filter(pk=line.pk).update(quantity=F("quantity") + quantity, updated_at=timezone.now())
        _start_change(cart)
        return _settle(cart=cart)


def add_service(
    *,
    user: Any,
    package_id: int,
    selected_date: date,
    selected_time: time,
    quantity: int = 1,
    devotee_name: str | None = None,
    note: str | None = None,
) -> PricedCart:
    """Add a service package on a dated slot (one place), for `devotee_name` with an optional `note`. The same package
    and slot again leaves the line as it is, except that a devotee name or note sent with it replaces the old one."""
    _check_quantity(quantity, kind=LineKind.SERVICE)
    package = (
        ServicePackage.objects.select_related("service")
        .filter(pk=package_id, is_active=True, service__is_active=True)
        .first()
    )
    if package is None:
        raise NotFound(f"There is no service package {package_id} on offer.")
    slot = Slot.objects.filter(
        service_id=package.service_id, date=selected_date, time=selected_time, is_active=True
    ).first()
    when = f"{selected_date:%Y-%m-%d} {selected_time:%H:%M}"
    if slot is None:
        raise SlotNotAvailable(f"{package.service.name} has no slot on {when}.")
    if slot_starts_at(slot_date=slot.date, slot_time=slot.time) <= timezone.now():
        raise SlotNotAvailable(f"The {when} slot for {package.service.name} has already passed.")
    with transaction.atomic():
        cart = _lock_active_cart(user=user)
        lines_on_slot = list(CartItem.objects.filter(cart=cart, kind=LineKind.SERVICE, slot=slot))
        details = {
            name: value.strip() for name, value in (("devotee_name", devotee_name), ("note", note)) if value is not None
        }
        same = [line for line in lines_on_slot if line.package_id == package.pk]
        if not same:
            if slot.remaining + own_holds(cart=cart).places[slot.pk] < len(lines_on_slot) + 1:
                raise SlotFull(f"The {when} slot for {package.service.name} has no places left.")
            CartItem.objects.create(cart=cart, kind=LineKind.SERVICE, package=package, slot=slot, quantity=1, **details)
        elif details:
            CartItem.objects.filter(pk=same[0].pk).update(updated_at=timezone.now(), **details)
        _start_change(cart)
        return _settle(cart=cart)


def add_plan(*, user: Any, plan_code: str, quantity: int = 1) -> PricedCart:
    """Add a subscription plan by its code. A plan already in the cart leaves the cart as it is (one line per plan)."""
    _check_quantity(quantity, kind=LineKind.PLAN)
    plan = Plan.objects.filter(code=plan_code, is_active=True).first()
    if plan is None:
        raise NotFound(f"There is no plan {plan_code!r} on offer.")
    with transaction.atomic():
        cart = _lock_active_cart(user=user)
        if not CartItem.objects.filter(cart=cart, kind=LineKind.PLAN, plan=plan).exists():
            CartItem.objects.create(cart=cart, kind=LineKind.PLAN, plan=plan, quantity=1)
        _start_change(cart)
        return _settle(cart=cart)


def update_item_quantity(*, user: Any, item_id: int, quantity: int) -> PricedCart:
    """Set a line's quantity: 1 to 99 for a product (within stock), exactly 1 for a service or plan line."""
    with transaction.atomic():
        cart = _lock_active_cart(user=user)
        item = CartItem.objects.select_related("variant__product").filter(pk=item_id, cart=cart).first()
        if item is None:
            raise CartItemNotFound()
        _check_quantity(quantity, kind=item.kind)
        if item.kind == LineKind.PRODUCT and item.quantity != quantity:
            variant = item.variant
            # A line whose variant has ended is dropped by settling below; there is no stock to check for it.
            if variant is not None and variant.is_active and variant.product.is_active:
                _check_stock(cart=cart, variant=variant, quantity=quantity)
            CartItem.objects.filter(pk=item.pk).update(quantity=quantity, updated_at=timezone.now())
        _start_change(cart)
        return _settle(cart=cart)


def remove_item(*, user: Any, item_id: int) -> PricedCart:
    with transaction.atomic():
        cart = _lock_active_cart(user=user)
        deleted, _ = CartItem.objects.filter(pk=item_id, cart=cart).delete()
        if not deleted:
            raise CartItemNotFound()
        _start_change(cart)
        return _settle(cart=cart)


def apply_promo(*, user: Any, code: str) -> PricedCart:
    """Put a promo code on the cart (replacing any other), or raise InvalidPromoCode saying why it cannot apply."""
    normalized = code.strip().upper()
    with transaction.atomic():
        cart = _lock_active_cart(user=user)
        promo = PromoCode.objects.filter(code=normalized).first()
        if promo is None:
            raise InvalidPromoCode(f"Promo code {normalized} does not exist.")
        _start_change(cart)
        cart.promo = promo
        priced = price_cart(cart=cart)
        if priced.promo_dropped:
            raise InvalidPromoCode(priced.promo_problem)
        return _persist(cart=cart, priced=priced)


def remove_promo(*, user: Any) -> PricedCart:
    with transaction.atomic():
        cart = _lock_active_cart(user=user)
        _start_change(cart)
        cart.promo = None
        return _settle(cart=cart)


def empty_cart(*, user: Any) -> PricedCart:
    """Remove every line and the promo code. The cart itself stays, ACTIVE and empty."""
    with transaction.atomic():
        cart = _lock_active_cart(user=user)
        CartItem.objects.filter(cart=cart).delete()
        _start_change(cart)
        cart.promo = None
        return _settle(cart=cart)


def hold_promo_use(*, promo_id: int, user_id: int, payment_reference: str, discount: int) -> None:
    """Hold one use of a promo code for a payment being created, exactly like stock: in the caller's transaction,
    taken back by release_promo_use when the payment ends unpaid, made final by record_promo_use at capture.

    The total limit is a conditional UPDATE (uses + holds < max_uses), so the database refuses the use past the
    last; that UPDATE keeps the code's row locked until the caller commits, so the per-customer count that follows
    is serialized with every other checkout of the code. Raises InvalidPromoCode (the caller's transaction rolls
    back, hold included)."""
    taken = (
        PromoCode.objects.filter(pk=promo_id)
        .filter(Q(max_uses__isnull=True) | Q(max_uses__gt=F("uses_count") + F("held_count")))
        .update(held_count=F("held_count") + 1)
    )
    code, per_user = PromoCode.objects.values_list("code", "max_uses_per_user").get(pk=promo_id)
    if not taken:
        raise InvalidPromoCode(
            f"Promo code {code} has no uses left: other checkouts hold or have used them all. Remove it to pay."
        )
    if per_user is not None:
        mine = PromoRedemption.objects.filter(
            promo_id=promo_id, user_id=user_id, state__in=[RedemptionState.HELD, RedemptionState.FINAL]
        ).count()
        if mine >= per_user:
            raise InvalidPromoCode(
                f"You have already used promo code {code} as often as it allows (a pending payment of yours may "
                "hold a use). Remove it to pay."
            )
    PromoRedemption.objects.create(
        promo_id=promo_id,
        user_id=user_id,
        payment_reference=payment_reference,
        discount=discount,
        state=RedemptionState.HELD,
    )


def release_promo_use(*, promo_id: int, payment_reference: str) -> bool:
    """Give back the use a payment held (it ended unpaid), in the caller's transaction. False when it held none."""
    if not PromoRedemption.objects.filter(payment_reference=payment_reference, state=RedemptionState.HELD).update(
        state=RedemptionState.RELEASED
    ):
        return False
    PromoCode.objects.filter(pk=promo_id).update(held_count=F("held_count") - 1)
    return True


def record_promo_use(*, promo_id: int, user_id: int, payment_reference: str, discount: int) -> None:
    """Count one use of a promo code when a payment is captured. Idempotent per payment_reference; the caller holds
    the payment's row lock.

    The payment's held use becomes final. A late capture (its hold already released) is money received, so its use
    is counted even if that takes the code past `max_uses`; the limit refuses new checkouts from then on.
    """
    if PromoRedemption.objects.filter(payment_reference=payment_reference, state=RedemptionState.HELD).update(
        state=RedemptionState.FINAL
    ):
        PromoCode.objects.filter(pk=promo_id).update(uses_count=F("uses_count") + 1, held_count=F("held_count") - 1)
        return
    if PromoRedemption.objects.filter(payment_reference=payment_reference, state=RedemptionState.RELEASED).update(
        state=RedemptionState.FINAL
    ):
        PromoCode.objects.filter(pk=promo_id).update(uses_count=F("uses_count") + 1)
        return
    try:
        # No row (a payment created before holds were taken). A savepoint: a replay hits the unique
        # payment_reference and leaves the caller's transaction intact.
        with transaction.atomic():
            PromoRedemption.objects.create(
                promo_id=promo_id, user_id=user_id, payment_reference=payment_reference, discount=discount
            )
            if not PromoCode.objects.filter(pk=promo_id).update(uses_count=F("uses_count") + 1):
                raise PromoCode.DoesNotExist(f"Promo code {promo_id} does not exist.")
    except IntegrityError:
        if not PromoRedemption.objects.filter(payment_reference=payment_reference).exists():
            raise


def replace_with_service(
    *,
    user: Any,
    package_id: int,
    selected_date: date,
    selected_time: time,
    service_id: int | None = None,
    service_type: str | None = None,
    promo_code: str | None = None,
) -> PricedCart:
    """Make the user's ACTIVE cart hold exactly this one booking (seed 002's "create a cart" for a booking).

    payfirst keeps one ACTIVE cart per customer, where the seeds made one cart per booking: so whatever the cart held
    before (an earlier booking never paid for, products) is replaced, and two bookings never end up in one payment
    unless the customer added both through /api/cart/add/. `service_id` and `service_type`, when sent, must be the
    package's own (they are checked, never trusted). All of it is one transaction: an invalid promo code or a full
    slot leaves the cart as it was.
    """
    package = ServicePackage.objects.select_related("service").filter(pk=package_id).first()
    if package is not None:
        mismatched: dict[str, list[str]] = {}
        if service_id is not None and service_id != package.service_id:
            mismatched["puja_service"] = [f"Package {package_id} belongs to service {package.service_id}."]
        if service_type is not None and service_type.strip().upper() != package.service.service_type:
            mismatched["service_type"] = [f"Package {package_id} is a {package.service.service_type} service."]
        if mismatched:
            raise InvalidInput("The service does not match the package.", fields=mismatched)
    with transaction.atomic():
        cart = _lock_active_cart(user=user)
        CartItem.objects.filter(cart=cart).delete()
        Cart.objects.filter(pk=cart.pk).update(promo=None)
        priced = add_service(user=user, package_id=package_id, selected_date=selected_date, selected_time=selected_time)
        if promo_code:
            priced = apply_promo(user=user, code=promo_code)
        return priced


def empty_named_cart(*, user: Any, cart_pk: int) -> PricedCart:
    """Empty one of the user's carts by its pk, only while it is still their ACTIVE cart (a paid cart stays)."""
    with transaction.atomic():
        cart = Cart.objects.select_for_update().filter(pk=cart_pk, user=user).first()
        if cart is None:
            raise NotFound("Cart not found.")
        if cart.status != CartStatus.ACTIVE:
            raise InvalidState(f"Cart {cart.cart_id} is {cart.status.lower()}; only an active cart can be emptied.")
        return empty_cart(user=user)
