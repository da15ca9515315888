"""Mounted at /api/ (before fulfilment's reads): the customer's cancellations, as API.md places them."""

from django.urls import path

from payfirst.payments.customer_cancel_apis import BookingCancelApi, SubscriptionCancelApi

urlpatterns = [
    path("booking/bookings/<int:booking_id>/cancel/", BookingCancelApi.as_view(), name="booking-cancel"),
    path("subscriptions/<int:subscription_id>/cancel/", SubscriptionCancelApi.as_view(), name="subscription-cancel"),
]
