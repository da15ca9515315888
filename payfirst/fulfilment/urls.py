"""Mounted at /api/: orders, bookings (under /booking/, as API.md has them) and subscriptions."""

from django.urls import path

from payfirst.fulfilment import apis

urlpatterns = [
    path("orders/", apis.OrderListApi.as_view(), name="order-list"),
    path("orders/<int:order_id>/", apis.OrderDetailApi.as_view(), name="order-detail"),
    path("booking/bookings/", apis.BookingListApi.as_view(), name="booking-list"),
    path("booking/bookings/<int:booking_id>/", apis.BookingDetailApi.as_view(), name="booking-detail"),
    path("subscriptions/", apis.SubscriptionListApi.as_view(), name="subscription-list"),
]
