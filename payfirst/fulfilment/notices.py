"""What fulfilment tells customers: a booking cancelled. The email is recorded in the caller's transaction, in the
notifications outbox, and sent after it commits."""

from __future__ import annotations

from collections.abc import Iterable

from payfirst.fulfilment.models import Booking
from payfirst.notifications.models import NotificationKind
from payfirst.notifications.services import notify


def notify_bookings_cancelled(*, booking_ids: Iterable[int], reason: str = "") -> None:
    """One email per cancelled booking (key `booking-cancelled:<booking id>`): its service, date, time and amount.
    Call it in the transaction that cancels them. One query to read them, one INSERT each."""
    ids = sorted(set(booking_ids))
    if not ids:
        return
    for booking in Booking.objects.filter(pk__in=ids).select_related("service", "package").order_by("pk"):
        notify(
            key=f"booking-cancelled:{booking.pk}",
            kind=NotificationKind.BOOKING_CANCELLED,
            user_id=booking.user_id,
            context={
                "booking_reference": booking.book_id,
                "name": f"{booking.service.name} — {booking.package.name}",
                "date": booking.selected_date.isoformat(),
                "time": booking.selected_time.strftime("%H:%M"),
                "total": booking.total,
                "payment_id": booking.payment_id,
                "reason": reason,
            },
        )
