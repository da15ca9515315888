"""Read-only endpoints for a user's own orders, bookings and subscriptions; anyone else's answers 404."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers

from payfirst.accounts.models import ADDRESS_FIELDS
from payfirst.accounts.selectors import signed_in_user
from payfirst.core.fields import HourMinuteField
from payfirst.core.schema import NOT_AUTHENTICATED, NOT_FOUND
from payfirst.fulfilment.models import Booking, Order, OrderItem, Subscription
from payfirst.fulfilment.selectors import (
    bookings_for_user,
    get_booking,
    get_order,
    orders_for_user,
    subscriptions_for_user,
)

_ADDRESS_TEXT = {"type": "string"}


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "description": "the address as it was when the payment was made (the Address shape), or null",
        "properties": {
            "id": {"type": "integer"},
            **{name: _ADDRESS_TEXT for name in ADDRESS_FIELDS if name not in ("postal_code", "is_default")},
            "postal_code": {"type": "string", "pattern": "^[1-9][0-9]{5}$"},
            "is_default": {"type": "boolean"},
        },
    }
)
class AddressSnapshotField(serializers.JSONField):
    pass


class OrderItemOutput(serializers.ModelSerializer):
    variant_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = OrderItem
        fields = ["variant_id", "name", "sku", "quantity", "unit_price", "line_total"]
        read_only_fields = fields


class OrderOutput(serializers.ModelSerializer):
    items = OrderItemOutput(many=True, read_only=True)
    payment_id = serializers.IntegerField(read_only=True)
    shipping_address = AddressSnapshotField(read_only=True)
    billing_address = AddressSnapshotField(read_only=True)

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
        read_only_fields = fields


class NamedRefOutput(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class BookingOutput(serializers.ModelSerializer):
    service = NamedRefOutput(read_only=True)
    package = NamedRefOutput(read_only=True)
    selected_time = HourMinuteField(read_only=True)
    payment_id = serializers.IntegerField(read_only=True)

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
            "devotee_name",
            "note",
        ]
        read_only_fields = fields


class SubscriptionOutput(serializers.ModelSerializer):
    payment_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Subscription
        fields = ["id", "plan_code", "status", "starts_at", "ends_at", "total", "payment_id"]
        read_only_fields = fields


@extend_schema(tags=["orders"], responses={200: OrderOutput(many=True), 401: NOT_AUTHENTICATED, 404: NOT_FOUND})
class OrderListApi(generics.ListAPIView):
    """The signed-in user's orders, newest first. Staff see only their own here; the admin shows everyone's."""

    serializer_class = OrderOutput

    def get_queryset(self) -> QuerySet[Order]:
        return orders_for_user(user=signed_in_user(self.request))


@extend_schema(tags=["orders"], responses={200: OrderOutput, 401: NOT_AUTHENTICATED, 404: NOT_FOUND})
class OrderDetailApi(generics.RetrieveAPIView):
    """One of the signed-in user's orders, with its items; anyone else's answers 404."""

    serializer_class = OrderOutput

    def get_object(self) -> Order:
        return get_order(user=signed_in_user(self.request), order_id=self.kwargs["order_id"])


@extend_schema(tags=["bookings"], responses={200: BookingOutput(many=True), 401: NOT_AUTHENTICATED, 404: NOT_FOUND})
class BookingListApi(generics.ListAPIView):
    """The signed-in user's bookings, newest first."""

    serializer_class = BookingOutput

    def get_queryset(self) -> QuerySet[Booking]:
        return bookings_for_user(user=signed_in_user(self.request))


@extend_schema(tags=["bookings"], responses={200: BookingOutput, 401: NOT_AUTHENTICATED, 404: NOT_FOUND})
class BookingDetailApi(generics.RetrieveAPIView):
    """One of the signed-in user's bookings; anyone else's answers 404."""

    serializer_class = BookingOutput

    def get_object(self) -> Booking:
        return get_booking(user=signed_in_user(self.request), booking_id=self.kwargs["booking_id"])


@extend_schema(
    tags=["subscriptions"], responses={200: SubscriptionOutput(many=True), 401: NOT_AUTHENTICATED, 404: NOT_FOUND}
)
class SubscriptionListApi(generics.ListAPIView):
    """The signed-in user's subscriptions, newest first. `total` (paise) is what was paid for each."""

    serializer_class = SubscriptionOutput

    def get_queryset(self) -> QuerySet[Subscription]:
        return subscriptions_for_user(user=signed_in_user(self.request))
