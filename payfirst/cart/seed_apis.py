"""Seed 002's cart endpoints (API.md, "Seed-compatible endpoints and fields"), on the same cart services.

The seeds made one cart per booking; payfirst keeps one ACTIVE cart per customer. `POST /api/cart/carts/` therefore
makes that cart hold exactly the booking sent (see services.replace_with_service), `GET` lists it, and `DELETE`
empties it. Every answer is payfirst's own Cart shape: integer paise, prices from the catalog.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payfirst.cart import services
from payfirst.cart.apis import UNAUTHORIZED, CartOutputSerializer, _error
from payfirst.cart.selectors import own_cart_by_reference
from payfirst.core.models import MAX_ID

# "10:00" and "10:00:00" (24 h) as /api/cart/add/ takes them, and the seed's "10:00 AM" / "1:30 pm" (12 h).
_TIME_FORMATS = ("%H:%M", "%H:%M:%S", "%I:%M %p", "%I:%M%p", "%I:%M:%S %p")


@extend_schema_field({"type": "string", "example": "10:00 AM", "description": '"HH:MM" (24 h) or "H:MM AM/PM"'})
class SlotTimeField(serializers.Field):
    """A slot time in 24-hour or 12-hour form; anything else is a field error, never a guess."""

    default_error_messages = {"invalid": 'Use "HH:MM" (24 h) or "H:MM AM" / "H:MM PM".'}

    def to_internal_value(self, data: Any) -> time:
        if isinstance(data, str) and len(data) <= 16:
            text = " ".join(data.strip().upper().split())
            for layout in _TIME_FORMATS:
                try:
                    return datetime.strptime(text, layout).time()
                except ValueError:
                    continue
        self.fail("invalid")

    def to_representation(self, value: time) -> str:
        return value.strftime("%H:%M")


class SeedCartCreateInputSerializer(serializers.Serializer):
    service_type = serializers.CharField(
        required=False, allow_null=True, max_length=32, help_text='e.g. "PUJA"; checked against the package'
    )
    puja_service = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_ID, help_text="service id; checked, not trusted"
    )
    package = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="a package id from the catalog")
    selected_date = serializers.DateField(help_text="YYYY-MM-DD")
    selected_time = SlotTimeField()
    promo_code = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=64)


CART_NOT_FOUND = _error("SeedCartNotFound", ["not_found"], "No such cart or package, or another user's cart.")


class SeedCartListCreateApi(APIView):
    @extend_schema(
        tags=["cart (seed-compatible)"],
        operation_id="cart_carts_create",
        summary="Seed 002: make your cart hold exactly this booking",
        description=(
            "payfirst keeps one active cart per customer, where seed 002 made one cart per booking: this makes your "
            "active cart hold exactly the booking sent, replacing whatever it held (so two bookings never end up in "
            "one payment unless both were added with /api/cart/add/). `puja_service` and `service_type`, when sent, "
            "must be the package's own. `selected_time` takes 24-hour or 12-hour times. A `promo_code` is applied "
            "as POST /api/cart/promo/ would. One transaction: any error leaves the cart as it was."
        ),
        request=SeedCartCreateInputSerializer,
        responses={
            201: CartOutputSerializer,
            400: _error(
                "SeedCartCreateBadRequest",
                ["invalid_input", "malformed_request", "slot_not_available", "invalid_promo_code"],
                "`invalid_input`: a malformed field, or `puja_service` / `service_type` not the package's; "
                "`slot_not_available`: no such slot on that date and time, or it has passed; "
                "`invalid_promo_code`: the code cannot be used.",
            ),
            401: UNAUTHORIZED,
            404: CART_NOT_FOUND,
            409: _error("SeedCartCreateConflict", ["slot_full"], "No place left in the slot."),
        },
        examples=[
            OpenApiExample(
                "seed 002",
                value={
                    "service_type": "PUJA",
                    "puja_service": 1,
                    "package": 1,
                    "selected_date": "2026-12-01",
                    "selected_time": "10:00 AM",
                    "promo_code": None,
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = SeedCartCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        priced = services.replace_with_service(
            user=request.user,
            package_id=values["package"],
            selected_date=values["selected_date"],
            selected_time=values["selected_time"],
            service_id=values.get("puja_service"),
            service_type=values.get("service_type"),
            promo_code=(values.get("promo_code") or "").strip() or None,
        )
        return Response(CartOutputSerializer(priced).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        tags=["cart (seed-compatible)"],
        operation_id="cart_carts_list",
        summary="Seed 002: your carts — the one active cart, priced now",
        responses={
            200: inline_serializer(
                name="SeedCartList",
                fields={
                    "count": serializers.IntegerField(),
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "results": CartOutputSerializer(many=True),
                },
            ),
            401: UNAUTHORIZED,
        },
    )
    def get(self, request: Request) -> Response:
        cart = CartOutputSerializer(services.refresh_cart(user=request.user)).data
        return Response({"count": 1, "next": None, "previous": None, "results": [cart]})


class SeedCartDetailApi(APIView):
    @extend_schema(
        tags=["cart (seed-compatible)"],
        operation_id="cart_carts_delete",
        summary="Seed 002: empty your active cart, named by its cart_id or id",
        description="The cart stays, ACTIVE and empty, as DELETE /api/cart/ leaves it. A paid cart cannot be emptied.",
        request=None,
        responses={
            200: CartOutputSerializer,
            401: UNAUTHORIZED,
            404: CART_NOT_FOUND,
            409: _error("SeedCartNotActive", ["invalid_state"], "The cart has been paid for (or closed)."),
        },
    )
    def delete(self, request: Request, cart_id: str) -> Response:
        cart = own_cart_by_reference(user=request.user, reference=cart_id)
        return Response(CartOutputSerializer(services.empty_named_cart(user=request.user, cart_pk=cart.pk)).data)
