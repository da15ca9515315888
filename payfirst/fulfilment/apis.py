"""Read-only endpoints for a user's own orders, bookings and subscriptions; anyone else's answers 404."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers

from payfirst.fulfilment.models import Booking, Order, OrderItem, Subscription
from payfirst.fulfilment.selectors import (
    bookings_for_user,
    get_booking,
    get_order,
    orders_for_user,
    subscriptions_for_user,
)

_ERROR = inline_serializer(
    name="FulfilmentError",
    fields={
        "error": inline_serializer(
            name="FulfilmentErrorBody",
            fields={"code": serializers.CharField(), "message": serializers.CharField()},
        )
    },
)
_NOT_SIGNED_IN = OpenApiResponse(_ERROR, description="`not_authenticated`: no or invalid bearer token.")
_NOT_FOUND = OpenApiResponse(_ERROR, description="`not_found`: no such object of yours, or no such page.")


class OrderItemOutput(serializers.ModelSerializer):
    variant_id = serializers.IntegerField()

    class Meta:
        model = OrderItem
        fields = ["variant_id", "name", "sku", "quantity", "unit_price", "line_total"]


class OrderOutput(serializers.ModelSerializer):
    items = OrderItemOutput(many=True)
    payment_id = serializers.IntegerField()
    shipping_address = serializers.JSONField(allow_null=True, help_text="snapshot in the Address shape, or null")
    billing_address = serializers.JSONField(allow_null=True, help_text="snapshot in the Address shape, or null")

    class Meta:
        model = Order
        fields = [
            "id",
            "order_number",
            "status",
            "items",
            "subtotal",
            "discount",
            "total",
            "shipping_address",
            "billing_address",
            "payment_id",
            "created_at",
        ]


class NamedRefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class BookingOutput(serializers.ModelSerializer):
    service = NamedRefOutput()
    package = NamedRefOutput()
    selected_time = serializers.TimeField(format="%H:%M", help_text="HH:MM, 24 h")
    payment_id = serializers.IntegerField()

    class Meta:
        model = Booking
        fields = [
            "id",
            "book_id",
            "status",
            "service",
            "package",
            "selected_date",
            "selected_time",
            "total",
            "payment_id",
            "created_at",
        ]


class SubscriptionOutput(serializers.ModelSerializer):
    payment_id = serializers.IntegerField()

    class Meta:
        model = Subscription
        fields = ["id", "plan_code", "status", "starts_at", "ends_at", "total", "payment_id"]


@extend_schema(tags=["orders"], responses={200: OrderOutput(many=True), 401: _NOT_SIGNED_IN, 404: _NOT_FOUND})
class OrderListApi(generics.ListAPIView):
    """The signed-in user's orders, newest first. Staff see only their own here; the admin shows everyone's."""

    serializer_class = OrderOutput

    def get_queryset(self) -> QuerySet[Order]:
        return orders_for_user(user=self.request.user)


@extend_schema(tags=["orders"], responses={200: OrderOutput, 401: _NOT_SIGNED_IN, 404: _NOT_FOUND})
class OrderDetailApi(generics.RetrieveAPIView):
    serializer_class = OrderOutput

    def get_object(self) -> Order:
        return get_order(user=self.request.user, order_id=self.kwargs["order_id"])


@extend_schema(tags=["bookings"], responses={200: BookingOutput(many=True), 401: _NOT_SIGNED_IN, 404: _NOT_FOUND})
class BookingListApi(generics.ListAPIView):
    """The signed-in user's bookings, newest first."""

    serializer_class = BookingOutput

    def get_queryset(self) -> QuerySet[Booking]:
        return bookings_for_user(user=self.request.user)


@extend_schema(tags=["bookings"], responses={200: BookingOutput, 401: _NOT_SIGNED_IN, 404: _NOT_FOUND})
class BookingDetailApi(generics.RetrieveAPIView):
    serializer_class = BookingOutput

    def get_object(self) -> Booking:
        return get_booking(user=self.request.user, booking_id=self.kwargs["booking_id"])


@extend_schema(
    tags=["subscriptions"], responses={200: SubscriptionOutput(many=True), 401: _NOT_SIGNED_IN, 404: _NOT_FOUND}
)
class SubscriptionListApi(generics.ListAPIView):
    """The signed-in user's subscriptions, newest first. `total` (paise) is what was paid for each."""

    serializer_class = SubscriptionOutput

    def get_queryset(self) -> QuerySet[Subscription]:
        return subscriptions_for_user(user=self.request.user)
