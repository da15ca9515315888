"""Read queries for payments: what a user may see, lookups by gateway order, and the status summaries the seed-era
front ends poll (`check-booking`, `cart/status`). Each runs a constant number of queries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Case, Exists, IntegerField, OuterRef, QuerySet, Value, When

from payfirst.accounts.authentication import DeferredUser
from payfirst.cart.models import Cart
from payfirst.core.errors import NotFound
from payfirst.core.models import MAX_ID
from payfirst.fulfilment.models import Booking, Order, Subscription
from payfirst.fulfilment.selectors import FulfilmentRef, fulfilment_refs, payment_booking
from payfirst.payments.locks import payment_by_gateway_order
from payfirst.payments.models import Payment, Refund, RefundStatus
from payfirst.payments.snapshot import payment_snapshot
from payfirst.payments.states import CAPTURED_LIKE, PaymentStatus

S = PaymentStatus
ENDED_UNPAID = (S.FAILED, S.EXPIRED, S.CANCELLED, S.SUPERSEDED)


def payments_visible_to(*, user: Any) -> QuerySet[Payment]:
    """Staff see every payment; everyone else only their own. Newest first, with the cart for `cart_id`."""
    queryset = Payment.objects.select_related("cart").order_by("-created_at", "-id")
    return queryset if user.is_staff else queryset.filter(user=user)


def get_payment(*, user: Any, payment_id: int) -> Payment:
    """One payment the user may see; another user's payment is NotFound exactly like a missing one."""
    if not 0 < payment_id <= MAX_ID:
        raise NotFound(f"Payment {payment_id} was not found.")
    payment = payments_visible_to(user=user).filter(pk=payment_id).first()
    if payment is None:
        raise NotFound(f"Payment {payment_id} was not found.")
    return payment


def payment_with_fulfilments(*, user: Any, payment_id: int) -> tuple[Payment, list[FulfilmentRef]]:
    """`get_payment` and what it was turned into. Signed in with the row not read yet (`DeferredUser`), the user,
    the payment and its fulfilments come in one statement (`snapshot.payment_snapshot`)."""
    if not isinstance(user, DeferredUser):
        payment = get_payment(user=user, payment_id=payment_id)
        return payment, fulfilments_of([payment])[payment.pk]
    if not 0 < payment_id <= MAX_ID:
        raise NotFound(f"Payment {payment_id} was not found.")
    snapshot = payment_snapshot(user_id=user.token_user_id(), payment_id=payment_id)
    user.supply(snapshot.user)
    if snapshot.payment is None:
        raise NotFound(f"Payment {payment_id} was not found.")
    return snapshot.payment, snapshot.fulfilments


def own_payment(*, user: Any, payment_id: int) -> Payment:
    """One of the user's own payments (for actions such as cancel: staff act through the admin)."""
    payment = (
        Payment.objects.select_related("cart").filter(pk=payment_id, user=user).first()
        if (0 < payment_id <= MAX_ID)
        else None
    )
    if payment is None:
        raise NotFound(f"Payment {payment_id} was not found.")
    return payment


def payment_for_gateway_order(*, gateway: str, gateway_order_id: str) -> Payment | None:
    if not gateway_order_id:
        return None
    return payment_by_gateway_order(gateway=gateway, gateway_order_id=gateway_order_id)


def fulfilments_of(payments: Iterable[Payment]) -> dict[int, list[FulfilmentRef]]:
    """Each payment's fulfilments, one query for any number of payments, and none when no payment is captured:
    fulfilments are made only in the transaction that captures a payment, so a payment read in any other status
    has none (a pending payment just created, or returned for the same cart, costs no query)."""
    payments = list(payments)
    captured = [payment.pk for payment in payments if payment.status in CAPTURED_LIKE]
    return {payment.pk: [] for payment in payments} | fulfilment_refs(payment_ids=captured)


def outcome_for_customer(*, payment: Payment, is_fulfilled: bool) -> str:
    """`success` | `pending` | `failed`, as confirm-razorpay and the PhonePe redirect report it.

    Success only once the money is captured AND fulfilled. FLAGGED is `pending`: money arrived, staff decide.
    A capture with nothing fulfilled is an automatic refund in progress: `failed` for the customer.
    """
    if payment.status in CAPTURED_LIKE:
        return "success" if is_fulfilled else "failed"
    if payment.status in (S.PENDING, S.FLAGGED):
        return "pending"
    return "failed"


def payment_status_label(*, payment: Payment | None, is_fulfilled: bool) -> str:
    """`payment_status` of check-booking and cart/status (seed-compatible: SUCCESS / PENDING / FAILED, plus the
    refund and review states a seed front end never saw):

    PENDING → PENDING · CAPTURED and fulfilled → SUCCESS · CAPTURED, not fulfilled (automatic refund) → REFUNDING ·
    PARTIALLY_REFUNDED → PARTIALLY_REFUNDED · REFUNDED → REFUNDED · FLAGGED → UNDER_REVIEW ·
    FAILED, EXPIRED, CANCELLED, SUPERSEDED → FAILED · no payment yet → NOT_STARTED.
    """
    if payment is None:
        return "NOT_STARTED"
    if payment.status == S.CAPTURED:
        return "SUCCESS" if is_fulfilled else "REFUNDING"
    if payment.status in (S.PARTIALLY_REFUNDED, S.REFUNDED, S.PENDING):
        return str(payment.status)
    if payment.status == S.FLAGGED:
        return "UNDER_REVIEW"
    return "FAILED"


def booking_check(*, payment: Payment) -> dict[str, Any]:
    """check-booking's answer for a payment the caller may see."""
    booking = payment_booking(payment_id=payment.pk)
    refs = fulfilment_refs(payment_ids=[payment.pk])[payment.pk]
    return {
        "success": True,
        "payment_status": payment_status_label(payment=payment, is_fulfilled=bool(refs)),
        "booking_created": booking is not None,
        "booking": dict(booking) if booking is not None else None,
    }


def cart_payment_status(*, user: Any, cart_id: str) -> dict[str, Any]:
    """cart/status's answer: the cart's payment that matters most (a captured one, else the pending one, else the
    newest). Another user's cart is NotFound."""
    cart = Cart.objects.filter(user=user, cart_id=cart_id).first()
    if cart is None:
        raise NotFound(f"Cart {cart_id} was not found.")
    payment = (
        Payment.objects.filter(cart=cart)
        .annotate(
            weight=Case(
                When(status__in=CAPTURED_LIKE, then=Value(0)),
                When(status=S.PENDING, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            )
        )
        .order_by("weight", "-created_at", "-id")
        .first()
    )
    booking = payment_booking(payment_id=payment.pk) if payment is not None else None
    refs = fulfilment_refs(payment_ids=[payment.pk])[payment.pk] if payment is not None else []
    return {
        "success": True,
        "data": {
            "cart_id": cart.cart_id,
            "payment_status": payment_status_label(payment=payment, is_fulfilled=bool(refs)),
            "payment_amount": payment.amount if payment is not None else None,
            "merchant_order_id": payment.reference if payment is not None else None,
            "booking_created": booking is not None,
            "booking_id": booking["book_id"] if booking is not None else None,
            "cart_status": cart.status,
            "payment_created_at": payment.created_at if payment is not None else None,
            "payment_completed_at": payment.captured_at if payment is not None else None,
        },
    }


def unfulfilled_captures() -> QuerySet[Payment]:
    """CAPTURED payments with no order, booking or subscription and no pending or processed refund: money taken for
    nothing. Capture and fulfilment commit together, so this is empty unless something is badly wrong. A failed
    refund does not count as a refund here: the money is still held. Reconciliation alarms on these; the dashboard
    counts them."""
    return Payment.objects.filter(status=S.CAPTURED).filter(
        ~Exists(Order.objects.filter(payment=OuterRef("pk"))),
        ~Exists(Booking.objects.filter(payment=OuterRef("pk"))),
        ~Exists(Subscription.objects.filter(payment=OuterRef("pk"))),
        ~Exists(
            Refund.objects.filter(payment=OuterRef("pk"), status__in=[RefundStatus.PENDING, RefundStatus.PROCESSED])
        ),
    )
