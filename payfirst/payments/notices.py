"""What payments tell customers: a payment confirmed with what it fulfilled, and a refund processed. Each email is
recorded in the transaction of its event, in the notifications outbox, and sent after that transaction commits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from payfirst.catalog.models import LineKind
from payfirst.fulfilment.selectors import FulfilmentRef
from payfirst.fulfilment.services import FulfilmentLine
from payfirst.notifications.models import NotificationKind
from payfirst.notifications.services import notify
from payfirst.payments.models import Payment, Refund


def notify_payment_confirmed(
    *, payment: Payment, lines: Sequence[FulfilmentLine], refs: Sequence[FulfilmentRef]
) -> None:
    """One email per captured payment (key `capture:<payment id>`) listing its order, bookings and subscriptions.

    Built from the lines (as `payment_lines_for_fulfilment` reads them) and the references the capture already holds:
    no query but the outbox INSERT. `refs` is what `fulfil` returned for these lines: the order first, then one
    booking per service line and one subscription per plan line, each in the lines' order."""
    order_refs = [ref for ref in refs if ref.type == "order"]
    booking_refs = [ref for ref in refs if ref.type == "booking"]
    subscription_refs = [ref for ref in refs if ref.type == "subscription"]
    products = [line for line in lines if line.kind == LineKind.PRODUCT]
    services = [line for line in lines if line.kind == LineKind.SERVICE]
    plans = [line for line in lines if line.kind == LineKind.PLAN]
    order: dict[str, Any] | None = None
    if order_refs:
        order = {
            "reference": order_refs[0].reference,
            "items": [{"name": line.name, "quantity": line.quantity, "total": line.total} for line in products],
        }
    bookings = [
        {
            "reference": ref.reference,
            "name": line.name,
            "date": line.selected_date.isoformat() if line.selected_date else "",
            "time": line.selected_time.strftime("%H:%M") if line.selected_time else "",
            "total": line.total,
        }
        for line, ref in zip(services, booking_refs, strict=True)
    ]
    subscriptions = [
        {
            "reference": ref.reference,
            "name": line.name,
            "days": line.plan_days,  # read with the lines by payment_lines_for_fulfilment
            "total": line.total,
        }
        for line, ref in zip(plans, subscription_refs, strict=True)
    ]
    notify(
        key=f"capture:{payment.pk}",
        kind=NotificationKind.PAYMENT_CONFIRMED,
        user_id=payment.user_id,
        context={
            "payment_id": payment.pk,
            "payment_reference": payment.reference,
            "amount": payment.amount,
            "discount": payment.discount,
            "order": order,
            "bookings": bookings,
            "subscriptions": subscriptions,
        },
    )


def notify_refund_processed(*, payment: Payment, refund: Refund, refunded_total: int) -> None:
    """One email per processed refund (key `refund:<refund id>`), in the transaction that records it processed."""
    notify(
        key=f"refund:{refund.pk}",
        kind=NotificationKind.REFUND_PROCESSED,
        user_id=payment.user_id,
        context={
            "payment_id": payment.pk,
            "payment_reference": payment.reference,
            "payment_amount": payment.amount,
            "refund_reference": refund.reference,
            "amount": refund.amount,
            "reason": refund.reason,
            "refunded_total": refunded_total,
        },
    )
