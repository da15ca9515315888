"""The customer's own cancellations, mounted at /api/ beside the fulfilment reads: POST
/api/booking/bookings/{id}/cancel/ and /api/subscriptions/{id}/cancel/. They live in payments because a cancellation
refunds, and fulfilment sits below payments."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payfirst.core.schema import NOT_AUTHENTICATED, NOT_FOUND, error_response
from payfirst.fulfilment.apis import BookingOutput, SubscriptionOutput
from payfirst.payments.customer_cancel import cancel_booking, cancel_subscription

BOOKING_CONFLICT = error_response(
    "`cancellation_closed`: the service's cut-off before the slot has passed; `invalid_state`: the booking is "
    "completed, or its payment cannot be refunded."
)
SUBSCRIPTION_CONFLICT = error_response("`invalid_state`: the subscription has ended.")


class BookingCancelApi(APIView):
    @extend_schema(
        tags=["bookings"],
        operation_id="booking_cancel",
        summary="Cancel one of my bookings",
        description="Cancels a CONFIRMED booking until the service's cut-off (`cancel_cutoff_hours` before the slot "
        "starts), gives its place back and refunds the service's share of what was paid for it (in full unless "
        "the service says otherwise; nothing below 100 paise). The refund is sent at once; if the gateway cannot "
        "answer it stays pending and is retried. Cancelling a cancelled booking answers it unchanged. No body.",
        request=None,
        responses={200: BookingOutput, 401: NOT_AUTHENTICATED, 404: NOT_FOUND, 409: BOOKING_CONFLICT},
    )
    def post(self, request: Request, booking_id: int) -> Response:
        cancelled = cancel_booking(user=request.user, booking_id=booking_id)
        return Response(BookingOutput(cancelled.fulfilment).data)


class SubscriptionCancelApi(APIView):
    @extend_schema(
        tags=["subscriptions"],
        operation_id="subscription_cancel",
        summary="Cancel one of my subscriptions",
        description="Cancels an ACTIVE subscription. One that has not started yet (a renewal) is refunded in full, a "
        "running one for its unused whole days; nothing below 100 paise. Cancelling a cancelled subscription answers "
        "it unchanged. No body.",
        request=None,
        responses={200: SubscriptionOutput, 401: NOT_AUTHENTICATED, 404: NOT_FOUND, 409: SUBSCRIPTION_CONFLICT},
    )
    def post(self, request: Request, subscription_id: int) -> Response:
        cancelled = cancel_subscription(user=request.user, subscription_id=subscription_id)
        return Response(SubscriptionOutput(cancelled.fulfilment).data)
