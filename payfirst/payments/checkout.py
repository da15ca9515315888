"""Checkout: price the cart, snapshot it into a payment with its lines, reserve stock and slots, then open the
gateway order (with no transaction open) and record it in a new short transaction. Retry-safe per cart contents.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from payfirst.accounts.models import User
from payfirst.cart.models import Cart, CartStatus
from payfirst.cart.pricing import PricedCart, price_cart
from payfirst.cart.selectors import get_active_cart
from payfirst.cart.services import hold_promo_use, release_promo_use
from payfirst.catalog.inventory import change_holds
from payfirst.core.errors import GatewayFailed
from payfirst.core.money import CURRENCY, Paise
from payfirst.gateways.base import GatewayError
from payfirst.gateways.registry import get_gateway
from payfirst.payments.errors import (
    CartEmpty,
    NothingToPay,
    PaymentInProgress,
    ShippingAddressRequired,
)
from payfirst.payments.inputs import own_addresses, validate_redirect_url
from payfirst.payments.limits import check_checkout_limits
from payfirst.payments.models import Payment, PaymentEvent, PaymentLine, ReservationState
from payfirst.payments.reservations import holds_of_payment, holds_of_priced, net, release_and_move
from payfirst.payments.states import EventSource, PaymentStatus, transition

logger = logging.getLogger("payfirst.payments")

S = PaymentStatus
_RETURN_TOKEN_SALT = "payfirst.payments.phonepe-return"


@dataclass(frozen=True)
class CreatedPayment:
    payment: Payment
    created: bool  # False: the cart's identical pending payment was returned


def _contents_hash(*, priced: PricedCart, gateway: str, shipping: Any, billing: Any, redirect_url: str) -> str:
    """Everything that makes two checkouts "the same": an identical one may reuse the pending payment."""
    document = {
        "gateway": gateway,
        "currency": CURRENCY,
        "lines": [
            [
                line.kind,
                line.variant_id,
                line.package_id,
                line.slot_id,
                line.plan_code,
                line.quantity,
                line.unit_price,
                line.discount,
                line.devotee_name,
                line.note,
            ]
            for line in priced.lines
        ],
        "subtotal": priced.subtotal,
        "discount": priced.discount,
        "promo": priced.promo.pk if priced.promo is not None else None,
        "shipping": shipping,
        "billing": billing,
        "redirect_url": redirect_url,
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()


def _order_lease() -> timedelta:
    """How long one request owns the opening of a payment's gateway order (longer than any gateway call)."""
    return timedelta(seconds=2 * float(settings.GATEWAY_TIMEOUT_SECONDS) + 5)


def return_token(*, payment: Payment) -> str:
    """The unguessable token in the return URL payfirst gives PhonePe: an HMAC (keyed by SECRET_KEY) of the payment's
    id and reference, so nothing is stored and only whoever was sent to PhonePe's page can present it."""
    return salted_hmac(_RETURN_TOKEN_SALT, f"{payment.pk}:{payment.reference}", algorithm="sha256").hexdigest()[:40]


def is_return_token_valid(*, payment: Payment, token: str) -> bool:
    return constant_time_compare(return_token(payment=payment), token)


def phonepe_return_url(*, payment: Payment) -> str:
    """Where PhonePe sends the browser: payfirst's own redirect handler, which asks PhonePe before redirecting on."""
    query = urlencode({"payment_id": payment.pk, "token": return_token(payment=payment)})
    return f"{settings.PAYFIRST_PUBLIC_BASE_URL.rstrip('/')}/api/payments/redirect/phonepe/?{query}"


def razorpay_callback_url() -> str:
    """Where Razorpay Checkout's redirect mode form-POSTs its result: payfirst's callback, which verifies it."""
    return f"{settings.PAYFIRST_PUBLIC_BASE_URL.rstrip('/')}/api/payments/callback/razorpay/"


def gateway_reference(*, payment: Payment) -> str:
    """The id the gateway knows this opening of the order by. PhonePe refuses a second order with a merchantOrderId
    it has seen, so when an earlier opening died unrecorded (a crash between PhonePe's answer and ours), the next one
    uses a new id: the reference with the attempt number. Razorpay finds the earlier order by its receipt instead."""
    if payment.gateway == "phonepe" and payment.order_attempts > 1:
        return f"{payment.reference}-{payment.order_attempts}"
    return payment.reference


def create_payment_for_cart(
    *,
    user: User,
    gateway: str,
    shipping_address_id: int | None = None,
    billing_address_id: int | None = None,
    redirect_url: str | None = None,
) -> CreatedPayment:
    """Price the user's cart from the database, snapshot it, reserve stock and slots, then open a gateway order.

    An identical cart with a live pending payment gets that payment back (created=False); a changed cart
    supersedes it. On a gateway failure everything is released and GatewayFailed (502) is raised: retrying is safe.
    """
    redirect = validate_redirect_url(redirect_url=redirect_url) if redirect_url else ""
    addresses = own_addresses(user=user, ids=(shipping_address_id, billing_address_id))
    shipping = addresses.get(shipping_address_id) if shipping_address_id is not None else None
    billing = addresses.get(billing_address_id) if billing_address_id is not None else shipping

    cart = get_active_cart(user=user)
    priced = price_cart(cart=cart)
    if not priced.lines:
        raise CartEmpty()
    if shipping is None and any(line.kind == "product" for line in priced.lines):
        raise ShippingAddressRequired(fields={"shipping_address_id": ["Required when the cart holds products."]})
    if priced.total <= 0:
        raise NothingToPay()
    contents_hash = _contents_hash(
        priced=priced, gateway=gateway, shipping=shipping, billing=billing, redirect_url=redirect
    )

    payment, created = _reserve_and_record(
        user=user,
        cart=cart,
        priced=priced,
        gateway=gateway,
        shipping=shipping,
        billing=billing,
        redirect=redirect,
        contents_hash=contents_hash,
    )
    if payment.gateway_order_id:
        return CreatedPayment(payment=payment, created=created)
    return CreatedPayment(payment=_open_gateway_order(payment=payment, user=user), created=created)


def _reserve_and_record(
    *,
    user: User,
    cart: Cart,
    priced: PricedCart,
    gateway: str,
    shipping: Any,
    billing: Any,
    redirect: str,
    contents_hash: str,
) -> tuple[Payment, bool]:
    """One short transaction: reuse or supersede the cart's pending payment, insert the new one with its lines,
    and reserve what it holds. A returned payment without a gateway order is this request's to open."""
    now = timezone.now()
    with transaction.atomic():
        # The cart row first: concurrent checkouts of one cart queue here, so the second one sees the first one's
        # pending payment instead of colliding with it. A cart converted by a capture that committed while we
        # waited has been paid for: there is nothing left to check out.
        if not Cart.objects.select_for_update().filter(pk=cart.pk, status=CartStatus.ACTIVE).exists():
            raise CartEmpty("This cart has just been paid for; your new cart is empty.")
        reused, released_variants, released_slots, superseded = _reuse_or_supersede(
            user=user, cart=cart, contents_hash=contents_hash, now=now
        )
        if reused is not None:
            return reused, False
        check_checkout_limits(user_id=user.pk, slots=holds_of_priced(priced)[1])  # 409 past a per-customer cap
        payment = _insert_payment(
            user=user,
            cart=cart,
            priced=priced,
            gateway=gateway,
            shipping=shipping,
            billing=billing,
            redirect=redirect,
            contents_hash=contents_hash,
            now=now,
        )
        variants, slots = holds_of_priced(priced)
        # Raises InsufficientStock / SlotFull (409) before the customer pays anything; rolls all of this back.
        change_holds(variants=net(variants, released_variants), slots=net(slots, released_slots))
        # The promo code's row after the catalog rows (the lock order every path keeps): the superseded payment's
        # use goes back first, then this payment holds one; InvalidPromoCode (400) rolls everything back.
        if superseded is not None and superseded.promo_id is not None:
            release_promo_use(promo_id=superseded.promo_id, payment_reference=superseded.reference)
        if priced.promo is not None:
            hold_promo_use(
                promo_id=priced.promo.pk,
                user_id=user.pk,
                payment_reference=payment.reference,
                discount=priced.discount,
            )
    logger.info(
        "payment created",
        extra={"payment_id": payment.pk, "reference": payment.reference, "amount": payment.amount, "gateway": gateway},
    )
    return payment, True


def _reuse_or_supersede(
    *, user: User, cart: Cart, contents_hash: str, now: datetime
) -> tuple[Payment | None, dict[int, int], dict[int, int], Payment | None]:
    """The cart's (locked) pending payment: returned for reuse when its contents are the same and it is alive;
    otherwise moved to SUPERSEDED (or EXPIRED), with the holds it gives back (to net against the new payment's) and
    itself last (its promo use is given back by the caller, after the catalog rows)."""
    pending = Payment.objects.select_for_update().filter(cart=cart, status=S.PENDING).first()
    released_variants: dict[int, int] = {}
    released_slots: dict[int, int] = {}
    if pending is not None:
        if pending.contents_hash == contents_hash and pending.expires_at > now:
            pending.cart = cart
            if pending.gateway_order_id:
                return pending, {}, {}, None
            # No gateway order yet: another request is opening it, or one died trying. A short lease decides
            # who calls the gateway, so the same payment is never opened twice at once.
            claimed = Payment.objects.filter(
                pk=pending.pk, gateway_order_id="", order_requested_at__lt=now - _order_lease()
            ).update(order_requested_at=now, order_attempts=F("order_attempts") + 1)
            if not claimed:
                raise PaymentInProgress()
            pending.order_attempts += 1  # the row is locked: this is what the UPDATE wrote
            return pending, {}, {}, None
        # Its holds are given back in the same single pass that takes the new ones (below), so this
        # transaction locks catalog rows once, in pk order, like every other path.
        held = pending.reservation == ReservationState.HELD
        if held:
            released_variants, released_slots = holds_of_payment(pending.pk)
        alive = pending.expires_at > now
        transition(
            payment=pending,
            to=S.SUPERSEDED if alive else S.EXPIRED,
            source=EventSource.API if alive else EventSource.EXPIRY,
            actor_id=user.pk,
            detail="The cart changed; a new payment replaces this one."
            if alive
            else "Expired before payment (found by a new checkout).",
            fields={"reservation": ReservationState.RELEASED},
        )
        return None, released_variants, released_slots, pending if held else None
    return None, released_variants, released_slots, None


def _insert_payment(
    *,
    user: User,
    cart: Cart,
    priced: PricedCart,
    gateway: str,
    shipping: Any,
    billing: Any,
    redirect: str,
    contents_hash: str,
    now: datetime,
) -> Payment:
    """The new PENDING payment, its line snapshot (one INSERT for all lines) and its creation event."""
    payment = Payment.objects.create(
        user=user,
        cart=cart,
        gateway=gateway,
        amount=priced.total,
        currency=CURRENCY,
        subtotal=priced.subtotal,
        discount=priced.discount,
        promo=priced.promo,
        shipping_address=shipping,
        billing_address=billing,
        redirect_url=redirect,
        contents_hash=contents_hash,
        items_count=priced.items_count,
        reservation=ReservationState.HELD,
        expires_at=now + timedelta(minutes=settings.PAYMENT_EXPIRY_MINUTES),
        order_requested_at=now,
    )
    PaymentLine.objects.bulk_create(_line_snapshot(payment=payment, priced=priced))
    PaymentEvent.objects.create(
        payment=payment,
        from_status="",
        to_status=S.PENDING,
        source=EventSource.API,
        actor_id=user.pk,
        detail=f"Created from cart {cart.cart_id} for {payment.amount} paise.",
    )
    return payment


def _line_snapshot(*, payment: Payment, priced: PricedCart) -> list[PaymentLine]:
    """The payment's lines as the cart was priced: what fulfilment, invoices and refunds read from now on."""
    return [
        PaymentLine(
            payment=payment,
            kind=line.kind,
            variant_id=line.variant_id,
            package_id=line.package_id,
            slot_id=line.slot_id,
            plan_id=line.plan_id,
            name=line.name[:255],
            sku=line.sku or "",
            selected_date=line.selected_date,
            selected_time=line.selected_time,
            quantity=line.quantity,
            unit_price=line.unit_price,
            line_total=line.line_total,
            discount=line.discount,
            total=line.total,
            devotee_name=line.devotee_name,
            note=line.note,
        )
        for line in priced.lines
    ]


def _open_gateway_order(*, payment: Payment, user: User) -> Payment:
    """Call the gateway with no transaction open, then record its order in a new short transaction."""
    try:
        order = get_gateway(payment.gateway).create_order(
            reference=gateway_reference(payment=payment),
            amount=Paise(payment.amount),
            redirect_url=phonepe_return_url(payment=payment)
            if payment.gateway == "phonepe"
            else razorpay_callback_url(),
            customer={"name": user.full_name, "email": user.email, "contact": user.phone},
            description=f"{settings.PAYFIRST_MERCHANT_NAME} — {payment.items_count} item(s), {payment.reference}",
            # A re-opening (after a crash or a lost answer) counts up order_attempts before its call.
            first_opening=payment.order_attempts == 1,
        )
    except GatewayError as error:
        logger.warning(
            "gateway refused or failed to open an order; releasing the payment's reservations",
            extra={"payment_id": payment.pk, "gateway": payment.gateway, "error": str(error)},
        )
        _fail_unopened(payment_id=payment.pk, detail=f"Gateway order could not be opened: {error}")
        raise GatewayFailed() from None
    # Recorded whatever the payment's status is by now: a late capture on this order must find its payment. One
    # conditional UPDATE, atomic by itself: no transaction block (and its BEGIN and COMMIT round trips) around it.
    recorded = Payment.objects.filter(pk=payment.pk, gateway_order_id="").update(
        gateway_order_id=order.gateway_order_id, checkout=dict(order.checkout)
    )
    if not recorded:
        logger.error(
            "a second gateway order was opened for one payment; the first one recorded stays",
            extra={"payment_id": payment.pk, "gateway_order_id": order.gateway_order_id},
        )
        fresh = Payment.objects.select_related("cart").get(pk=payment.pk)
        return fresh
    payment.gateway_order_id = order.gateway_order_id
    payment.checkout = dict(order.checkout)
    return payment


def _fail_unopened(*, payment_id: int, detail: str) -> None:
    """The gateway order could not be opened: release everything and close the payment, so nothing stays held."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status == S.PENDING and not payment.gateway_order_id:
            release_and_move(payment=payment, to=S.FAILED, source=EventSource.API, detail=detail)
