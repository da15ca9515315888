"""Payment workflows: create a payment from the cart, learn its outcome from the gateway, capture exactly once,
fail, cancel, expire, and the automatic refund of a capture that can no longer be fulfilled.

Never a transaction or row lock across a gateway call: record the intent and commit, call the gateway, then apply
the answer in a new short transaction. Lock order everywhere: cart row, payment row, variants by pk, slots by pk
(the cart first because both checkout and capture need it; paths that never touch the cart start at the payment).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from payfirst.accounts.models import Address, User
from payfirst.cart.models import Cart, CartStatus
from payfirst.cart.pricing import PricedCart, price_cart
from payfirst.cart.selectors import get_active_cart
from payfirst.cart.services import record_promo_use
from payfirst.catalog.inventory import InsufficientStock, SlotFull, change_holds, consume_holds, sell_without_hold
from payfirst.catalog.models import Plan
from payfirst.core.errors import GatewayFailed, InvalidState, NotFound
from payfirst.core.money import CURRENCY, Paise
from payfirst.fulfilment.services import fulfil, payment_lines_for_fulfilment
from payfirst.gateways.base import GatewayError, GatewayPayment, GatewayStatus
from payfirst.gateways.registry import get_gateway
from payfirst.payments.errors import (
    CartEmpty,
    InvalidRedirectUrl,
    NothingToPay,
    PaymentInProgress,
    ShippingAddressRequired,
)
from payfirst.payments.models import Payment, PaymentEvent, PaymentLine, Refund, ReservationState
from payfirst.payments.refunds import send_refund_task
from payfirst.payments.states import EventSource, PaymentStatus, transition

logger = logging.getLogger("payfirst.payments")

S = PaymentStatus
CAPTURED_LIKE = frozenset({S.CAPTURED, S.PARTIALLY_REFUNDED, S.REFUNDED})


class SyncOutcome:
    """What one sync learned and did; reconciliation counts these."""

    CAPTURED = "captured"  # fulfilled now
    AUTO_REFUND = "auto_refund"  # captured late with nothing left to fulfil: refund recorded and queued
    FLAGGED = "flagged"  # amount or currency differs: never fulfilled
    FAILED = "failed"
    PENDING = "pending"  # the gateway has nothing final yet
    UNCHANGED = "unchanged"  # already known (a replay)
    NO_ORDER = "no_order"  # the payment never got a gateway order


@dataclass(frozen=True)
class CreatedPayment:
    payment: Payment
    created: bool  # False: the cart's identical pending payment was returned


# ---------------------------------------------------------------------------------------------------------------
# Create from cart
# ---------------------------------------------------------------------------------------------------------------


def _allowed_redirect_prefixes() -> list[tuple[str, str, str]]:
    """(scheme, host[:port], path prefix) a redirect_url may start with."""
    prefixes = []
    for base in [settings.FRONTEND_BASE_URL, *settings.CORS_ALLOWED_ORIGINS]:
        parts = urlsplit(base.strip())
        if parts.scheme in {"http", "https"} and parts.netloc:
            prefixes.append((parts.scheme, parts.netloc.lower(), parts.path.rstrip("/")))
    return prefixes


def validate_redirect_url(*, redirect_url: str) -> str:
    """The URL if it is under FRONTEND_BASE_URL or an allowed CORS origin (an open redirect otherwise)."""
    parts = urlsplit(redirect_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.username or parts.password:
        raise InvalidRedirectUrl()
    for scheme, netloc, path in _allowed_redirect_prefixes():
        if parts.scheme == scheme and parts.netloc.lower() == netloc:
            if not path or parts.path == path or parts.path.startswith(path + "/"):
                return redirect_url
    raise InvalidRedirectUrl()


def address_snapshot(address: Address) -> dict[str, Any]:
    """The Address API shape, frozen into the payment (and from there into the order)."""
    return {
        "id": address.pk,
        "full_name": address.full_name,
        "phone": address.phone,
        "address_line_1": address.address_line_1,
        "address_line_2": address.address_line_2,
        "city": address.city,
        "state": address.state,
        "postal_code": address.postal_code,
        "country": address.country,
        "is_default": address.is_default,
    }


def _own_addresses(*, user: User, ids: Iterable[int | None]) -> dict[int, dict[str, Any]]:
    """Snapshots of the user's own addresses by id; another user's address is NotFound like a missing one."""
    wanted = {pk for pk in ids if pk is not None}
    if not wanted:
        return {}
    found = {address.pk: address_snapshot(address) for address in Address.objects.filter(user=user, pk__in=wanted)}
    missing = wanted - found.keys()
    if missing:
        raise NotFound(f"Address {min(missing)} was not found.")
    return found


def _holds_of_priced(priced: PricedCart) -> tuple[dict[int, int], dict[int, int]]:
    variants: Counter[int] = Counter()
    slots: Counter[int] = Counter()
    for line in priced.lines:
        if line.variant_id is not None:
            variants[line.variant_id] += line.quantity
        if line.slot_id is not None:
            slots[line.slot_id] += line.quantity
    return dict(variants), dict(slots)


def _holds_of_payment(payment_id: int) -> tuple[dict[int, int], dict[int, int]]:
    """What a payment's lines hold in the catalog counters (one query)."""
    return _holds_of_rows(
        PaymentLine.objects.filter(payment_id=payment_id).values_list("variant_id", "slot_id", "quantity")
    )


def _holds_of_lines(lines: Iterable[PaymentLine]) -> tuple[dict[int, int], dict[int, int]]:
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


def _negated(amounts: Mapping[int, int]) -> dict[int, int]:
    return {pk: -amount for pk, amount in amounts.items()}


def _net(taken: Mapping[int, int], given_back: Mapping[int, int]) -> dict[int, int]:
    """Per row: what a new payment takes less what the payment it replaces gives back."""
    return {pk: taken.get(pk, 0) - given_back.get(pk, 0) for pk in taken.keys() | given_back.keys()}


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


def phonepe_return_url(*, payment_id: int) -> str:
    """Where PhonePe sends the browser: payfirst's own redirect handler, which asks PhonePe before redirecting on."""
    return f"{settings.PAYFIRST_PUBLIC_BASE_URL.rstrip('/')}/api/payments/redirect/phonepe/?payment_id={payment_id}"


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
    addresses = _own_addresses(user=user, ids=(shipping_address_id, billing_address_id))
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
    plan_codes = {line.plan_code for line in priced.lines if line.plan_code}
    plan_ids = dict(Plan.objects.filter(code__in=plan_codes).values_list("code", "pk")) if plan_codes else {}
    contents_hash = _contents_hash(
        priced=priced, gateway=gateway, shipping=shipping, billing=billing, redirect_url=redirect
    )

    payment, created = _reserve_and_record(
        user=user,
        cart=cart,
        priced=priced,
        gateway=gateway,
        plan_ids=plan_ids,
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
    plan_ids: Mapping[str, int],
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
        pending = Payment.objects.select_for_update().filter(cart=cart, status=S.PENDING).first()
        released_variants: dict[int, int] = {}
        released_slots: dict[int, int] = {}
        if pending is not None:
            if pending.contents_hash == contents_hash and pending.expires_at > now:
                pending.cart = cart
                if pending.gateway_order_id:
                    return pending, False
                # No gateway order yet: another request is opening it, or one died trying. A short lease decides
                # who calls the gateway, so the same payment is never opened twice at once.
                claimed = Payment.objects.filter(
                    pk=pending.pk, gateway_order_id="", order_requested_at__lt=now - _order_lease()
                ).update(order_requested_at=now)
                if not claimed:
                    raise PaymentInProgress()
                return pending, False
            # Its holds are given back in the same single pass that takes the new ones (below), so this
            # transaction locks catalog rows once, in pk order, like every other path.
            if pending.reservation == ReservationState.HELD:
                released_variants, released_slots = _holds_of_payment(pending.pk)
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
        PaymentLine.objects.bulk_create(
            [
                PaymentLine(
                    payment=payment,
                    kind=line.kind,
                    variant_id=line.variant_id,
                    package_id=line.package_id,
                    slot_id=line.slot_id,
                    plan_id=plan_ids.get(line.plan_code) if line.plan_code else None,
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
        )
        PaymentEvent.objects.create(
            payment=payment,
            from_status="",
            to_status=S.PENDING,
            source=EventSource.API,
            actor_id=user.pk,
            detail=f"Created from cart {cart.cart_id} for {payment.amount} paise.",
        )
        variants, slots = _holds_of_priced(priced)
        # Raises InsufficientStock / SlotFull (409) before the customer pays anything; rolls all of this back.
        change_holds(variants=_net(variants, released_variants), slots=_net(slots, released_slots))
    logger.info(
        "payment created",
        extra={"payment_id": payment.pk, "reference": payment.reference, "amount": payment.amount, "gateway": gateway},
    )
    return payment, True


def _open_gateway_order(*, payment: Payment, user: User) -> Payment:
    """Call the gateway with no transaction open, then record its order in a new short transaction."""
    try:
        order = get_gateway(payment.gateway).create_order(
            reference=payment.reference,
            amount=Paise(payment.amount),
            redirect_url=phonepe_return_url(payment_id=payment.pk)
            if payment.gateway == "phonepe"
            else (payment.redirect_url or None),
            customer={"name": user.full_name, "email": user.email, "contact": user.phone},
            description=f"{settings.PAYFIRST_MERCHANT_NAME} — {payment.items_count} item(s), {payment.reference}",
        )
    except GatewayError as error:
        logger.warning(
            "gateway refused or failed to open an order; releasing the payment's reservations",
            extra={"payment_id": payment.pk, "gateway": payment.gateway, "error": str(error)},
        )
        _fail_unopened(payment_id=payment.pk, detail=f"Gateway order could not be opened: {error}")
        raise GatewayFailed() from None
    with transaction.atomic():
        # Recorded whatever the payment's status is by now: a late capture on this order must find its payment.
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
            _release_and_move(payment=payment, to=S.FAILED, source=EventSource.API, detail=detail)


# ---------------------------------------------------------------------------------------------------------------
# Releasing, cancelling, expiring
# ---------------------------------------------------------------------------------------------------------------


def _release_and_move(
    *,
    payment: Payment,
    to: str,
    source: str,
    detail: str,
    actor_id: int | None = None,
    payload: Mapping[str, Any] | None = None,
    fields: Mapping[str, Any] | None = None,
) -> None:
    """Give back what the (locked) payment holds and move it to `to`, in the caller's transaction."""
    fields = dict(fields or {})
    if payment.reservation == ReservationState.HELD:
        variants, slots = _holds_of_payment(payment.pk)
        change_holds(variants=_negated(variants), slots=_negated(slots))
        fields["reservation"] = ReservationState.RELEASED
    transition(payment=payment, to=to, source=source, detail=detail, actor_id=actor_id, payload=payload, fields=fields)


def cancel_payment(*, payment_id: int, actor: User, source: str = EventSource.API) -> Payment:
    """Cancel a PENDING payment and release its reservations; anything else is InvalidState (409)."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != S.PENDING:
            raise InvalidState(f"Payment {payment.pk} is {payment.status.lower()} and cannot be cancelled.")
        _release_and_move(
            payment=payment,
            to=S.CANCELLED,
            source=source,
            actor_id=actor.pk,
            detail="Cancelled by the customer." if source == EventSource.API else "Cancelled by staff.",
        )
    logger.info("payment cancelled", extra={"payment_id": payment.pk})
    return payment


def expire_payment(*, payment_id: int) -> bool:
    """Expire one PENDING payment past its expires_at and release its reservations. False if it is not (any more)."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != S.PENDING or payment.expires_at > timezone.now():
            return False
        _release_and_move(payment=payment, to=S.EXPIRED, source=EventSource.EXPIRY, detail="Not paid before expiry.")
    logger.info("payment expired", extra={"payment_id": payment.pk})
    return True


def expire_stale_payments(*, limit: int = 200) -> Counter[str]:
    """Ask the gateway one last time about each PENDING payment past its expiry, then expire what is still unpaid.

    The last sync means a paid-but-unnotified payment is captured rather than expired. Safe to run concurrently:
    each payment is decided under its own row lock.
    """
    outcomes: Counter[str] = Counter()
    stale = list(
        Payment.objects.filter(status=S.PENDING, expires_at__lte=timezone.now()).order_by("expires_at", "pk")[:limit]
    )
    for payment in stale:
        if payment.gateway_order_id:
            try:
                outcome = sync_payment(payment=payment, source=EventSource.EXPIRY)
            except GatewayError as error:
                # Expire anyway: should the money turn up later, the late-capture path fulfils or refunds it.
                logger.warning(
                    "last status check before expiry failed; expiring anyway",
                    extra={"payment_id": payment.pk, "error": str(error)},
                )
                outcome = SyncOutcome.PENDING
            except DatabaseError:
                # The gateway says captured but recording it failed (rolled back): left PENDING for the next run and
                # for reconciliation, never expired, and it does not hold up the payments behind it.
                logger.exception("recording a capture found at expiry failed", extra={"payment_id": payment.pk})
                outcomes["errors"] += 1
                continue
            if outcome != SyncOutcome.PENDING:
                outcomes[outcome] += 1
                continue
        outcomes["expired" if expire_payment(payment_id=payment.pk) else SyncOutcome.UNCHANGED] += 1
    return outcomes


# ---------------------------------------------------------------------------------------------------------------
# Learning the outcome: every door (confirm, webhook, redirect, reconcile, expiry) comes through sync_payment
# ---------------------------------------------------------------------------------------------------------------


def sync_payment(
    *, payment: Payment, source: str, payload: Mapping[str, Any] | None = None, actor_id: int | None = None
) -> str:
    """Ask the gateway what happened to the payment's money, then record it. The gateway's status API is the truth;
    webhooks and redirects only say when to ask. Raises GatewayError when the gateway cannot answer."""
    if not payment.gateway_order_id:
        return SyncOutcome.NO_ORDER
    answer = get_gateway(payment.gateway).fetch_payment(gateway_order_id=payment.gateway_order_id)
    if answer.gateway_order_id != payment.gateway_order_id:
        raise GatewayError(f"The gateway answered for order {answer.gateway_order_id}, not {payment.gateway_order_id}.")
    evidence = {"status_api": dict(answer.raw), **({"hint": dict(payload)} if payload else {})}
    if answer.status is GatewayStatus.CAPTURED:
        return record_capture(
            payment=payment, gateway_payment=answer, source=source, payload=evidence, actor_id=actor_id
        )
    if answer.status is GatewayStatus.FAILED:
        return record_failure(
            payment_id=payment.pk, gateway_payment=answer, source=source, payload=evidence, actor_id=actor_id
        )
    return SyncOutcome.PENDING


def _lock_cart_then_payment(*, payment_id: int) -> Payment:
    """Lock the payment's cart row, then the payment row, in one statement, and return the payment as it is now.

    PostgreSQL locks the rows of `FOR UPDATE OF c, p` in the order the OF list names them, so this keeps the order
    checkout takes them in (a payment's cart never changes); test_capture_locks_the_cart_row_before_the_payment_row
    holds it to that. Plain SQL because it runs on every capture and the ORM's construction of the join cost more
    than the query. SQLite has no row locks (it serialises writers): there it is a plain read.
    """
    lock = " FOR UPDATE OF c, p" if connection.features.has_select_for_update_of else ""
    payment_table = connection.ops.quote_name(Payment._meta.db_table)
    cart_table = connection.ops.quote_name(Cart._meta.db_table)
    found = list(
        Payment.objects.raw(
            f"SELECT p.* FROM {payment_table} p JOIN {cart_table} c ON c.id = p.cart_id WHERE p.id = %s{lock}",
            [payment_id],
        )
    )
    if not found:
        raise Payment.DoesNotExist(f"Payment {payment_id} does not exist.")
    return found[0]


def record_capture(
    *,
    payment: Payment,
    gateway_payment: GatewayPayment,
    source: str,
    payload: Mapping[str, Any] | None = None,
    actor_id: int | None = None,
) -> str:
    """Money received: in ONE transaction, capture, fulfil, turn reservations into sales, count the promo code and
    convert the cart; or flag a wrong amount; or, for a late capture that can no longer be fulfilled, record an
    automatic refund and queue it. A replay changes nothing. `payment` may be stale: it is locked and read again."""
    evidence = dict(payload or {"status_api": dict(gateway_payment.raw)})
    money = {
        "gateway_payment_id": gateway_payment.gateway_payment_id or "",
        "gateway_amount": gateway_payment.amount.value,
        "gateway_currency": gateway_payment.currency,
    }
    with transaction.atomic():
        locked = _lock_cart_then_payment(payment_id=payment.pk)
        if locked.status in CAPTURED_LIKE or locked.status == S.FLAGGED:
            return SyncOutcome.UNCHANGED
        now = timezone.now()
        if gateway_payment.amount.value != locked.amount or gateway_payment.currency != locked.currency:
            logger.error(
                "gateway reports a different amount or currency than the payment; flagged, not fulfilled",
                extra={
                    "payment_id": locked.pk,
                    "expected_amount": locked.amount,
                    "expected_currency": locked.currency,
                    "gateway_amount": gateway_payment.amount.value,
                    "gateway_currency": gateway_payment.currency,
                },
            )
            _release_and_move(
                payment=locked,
                to=S.FLAGGED,
                source=source,
                actor_id=actor_id,
                payload=evidence,
                fields=money,
                detail=f"Gateway reported {gateway_payment.amount.value} {gateway_payment.currency}, expected "
                f"{locked.amount} {locked.currency}. Not fulfilled; staff decide.",
            )
            return SyncOutcome.FLAGGED
        if locked.status == S.PENDING:
            _capture_and_fulfil(
                payment=locked,
                source=source,
                actor_id=actor_id,
                payload=evidence,
                money=money,
                now=now,
                detail="Captured.",
                consume=True,
            )
            outcome = SyncOutcome.CAPTURED
        else:
            outcome = _record_late_capture(
                payment=locked, source=source, actor_id=actor_id, payload=evidence, money=money, now=now
            )
    payment.status = locked.status
    logger.info("payment captured", extra={"payment_id": payment.pk, "source": source, "outcome": outcome})
    return outcome


def _record_late_capture(
    *,
    payment: Payment,
    source: str,
    actor_id: int | None,
    payload: Mapping[str, Any],
    money: Mapping[str, Any],
    now: Any,
) -> str:
    """Money for a payment we stopped waiting for (expired, cancelled, superseded, failed). Take its stock and
    places again if they are still free and fulfil; otherwise capture it with an automatic refund and its reason.

    A cart is fulfilled at most once: when the cart has since been paid by another payment, or a newer payment for
    it is pending (the customer may be paying that one right now), the late money is refunded instead."""
    was = payment.status
    # The cart row is locked by record_capture, so neither answer can change before this transaction ends.
    cart_moved_on = (
        not Cart.objects.filter(pk=payment.cart_id, status=CartStatus.ACTIVE).exists()
        or Payment.objects.filter(cart_id=payment.cart_id, status=S.PENDING).exclude(pk=payment.pk).exists()
    )
    if cart_moved_on:
        return _capture_and_refund(
            payment=payment,
            source=source,
            actor_id=actor_id,
            payload=payload,
            money=money,
            now=now,
            reason=f"Paid after the payment was {was.lower()}, when its cart had already been paid for or a newer "
            f"payment for it was open. Refunded automatically so the cart is not paid for twice.",
        )
    variants, slots = _holds_of_payment(payment.pk)
    try:
        with transaction.atomic():  # a savepoint: a refusal undoes only the re-take
            sell_without_hold(variants=variants, slots=slots)
    except (InsufficientStock, SlotFull) as gone:
        return _capture_and_refund(
            payment=payment,
            source=source,
            actor_id=actor_id,
            payload=payload,
            money=money,
            now=now,
            reason=f"Paid after the payment was {was.lower()}, and what it was for is no longer available "
            f"({gone.message}) Refunded automatically.",
        )
    _capture_and_fulfil(
        payment=payment,
        source=source,
        actor_id=actor_id,
        payload=payload,
        money=money,
        now=now,
        detail=f"Paid after the payment was {was.lower()}; its stock and places were free and were taken again.",
        consume=False,
    )
    return SyncOutcome.CAPTURED


def _capture_and_refund(
    *,
    payment: Payment,
    source: str,
    actor_id: int | None,
    payload: Mapping[str, Any],
    money: Mapping[str, Any],
    now: Any,
    reason: str,
) -> str:
    """Record money that cannot be fulfilled: CAPTURED with an automatic refund of all of it, queued with the capture
    (if this transaction rolls back, the refund task never runs)."""
    transition(
        payment=payment,
        to=S.CAPTURED,
        source=source,
        actor_id=actor_id,
        payload=payload,
        detail=reason,
        fields={**money, "captured_at": now},
    )
    refund = Refund.objects.create(payment=payment, amount=payment.amount, reason=reason, is_automatic=True)
    send_refund_task.enqueue(refund_id=refund.pk)
    logger.warning(
        "late capture cannot be fulfilled; automatic refund recorded and queued",
        extra={"payment_id": payment.pk, "refund_id": refund.pk},
    )
    return SyncOutcome.AUTO_REFUND


def _capture_and_fulfil(
    *,
    payment: Payment,
    source: str,
    actor_id: int | None,
    payload: Mapping[str, Any],
    money: Mapping[str, Any],
    now: Any,
    detail: str,
    consume: bool,
) -> None:
    """The one atomic step (inside record_capture's transaction, cart and payment rows locked)."""
    transition(
        payment=payment,
        to=S.CAPTURED,
        source=source,
        actor_id=actor_id,
        payload=payload,
        detail=detail,
        fields={**money, "captured_at": now, "reservation": ReservationState.CONSUMED},
    )
    Cart.objects.filter(pk=payment.cart_id, status=CartStatus.ACTIVE).update(
        status=CartStatus.CONVERTED, converted_at=now
    )
    # The lines are read once: for the stock they sell and for the fulfilments they become.
    lines = payment_lines_for_fulfilment(payment_id=payment.pk)
    if consume:
        variants, _slots = _holds_of_lines(lines)
        consume_holds(variants=variants)
    fulfil(payment=payment, lines=lines)
    if payment.promo_id is not None:
        record_promo_use(
            promo_id=payment.promo_id,
            user_id=payment.user_id,
            payment_reference=payment.reference,
            discount=payment.discount,
        )


def record_failure(
    *,
    payment_id: int,
    gateway_payment: GatewayPayment,
    source: str,
    payload: Mapping[str, Any] | None = None,
    actor_id: int | None = None,
) -> str:
    """The gateway says every attempt failed. Only a PENDING payment moves (to FAILED, reservations released):
    a failure that arrives after a capture, or after any other end, never moves a payment backwards."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != S.PENDING:
            return SyncOutcome.UNCHANGED
        reason = gateway_payment.error_description or gateway_payment.error_code or "The gateway reports failure."
        _release_and_move(
            payment=payment,
            to=S.FAILED,
            source=source,
            actor_id=actor_id,
            payload=dict(payload or {"status_api": dict(gateway_payment.raw)}),
            detail=reason,
        )
    logger.info("payment failed", extra={"payment_id": payment_id, "source": source})
    return SyncOutcome.FAILED
