"""The cart API (API.md, Cart): thin views that parse the request, call one service and render the priced cart.

Every answer is the whole cart, priced from the catalog now, so a front end never has to keep its own copy in sync.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payfirst.accounts.signed_in_views import ReadsSignedInUserApi
from payfirst.cart import services
from payfirst.cart.errors import CartItemNotFound, InvalidQuantity
from payfirst.cart.models import CartStatus
from payfirst.cart.pricing import MAX_PRODUCT_QUANTITY, PricedCart, PricedLine
from payfirst.catalog.models import LineKind
from payfirst.core.fields import HourMinuteField
from payfirst.core.models import MAX_ID
from payfirst.core.money import CURRENCY
from payfirst.core.schema import coded_error_response

# --- input -------------------------------------------------------------------------------------------------------


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_PRODUCT_QUANTITY, "example": 1})
class QuantityField(serializers.IntegerField):
    """A line quantity. Anything but a whole number from 1 to 99 is `invalid_quantity`, not a generic field error."""

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None:
            raise InvalidQuantity(fields={"quantity": ["Must be a whole number."]})
        return super().validate_empty_values(data)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            raise InvalidQuantity(fields={"quantity": ["Must be a whole number."]})
        try:
            value = int(data)
        except ValueError:
            raise InvalidQuantity(fields={"quantity": ["Must be a whole number."]}) from None
        if not 1 <= value <= MAX_PRODUCT_QUANTITY:
            raise InvalidQuantity(
                f"A product line holds 1 to {MAX_PRODUCT_QUANTITY} units; service and plan lines hold 1.",
                fields={"quantity": [f"Must be 1 to {MAX_PRODUCT_QUANTITY}."]},
            )
        return value


def _id_field(help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text=help_text)


class ProductAddSerializer(serializers.Serializer):
    variant_id = _id_field("a variant id from /api/catalog/products/")
    quantity = QuantityField(
        required=False, default=1, help_text="1 to 99 (default 1); added to the line if the variant is already in it"
    )


class ServiceAddSerializer(serializers.Serializer):
    package_id = _id_field("a package id from /api/catalog/services/")
    selected_date = serializers.DateField(help_text="YYYY-MM-DD, a date from /api/catalog/services/{id}/slots/")
    selected_time = HourMinuteField(help_text="HH:MM (24 h), a slot time on that date")
    devotee_name = serializers.CharField(
        required=False, allow_blank=True, max_length=120, help_text="who the service is for; carried into the booking"
    )
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="for the priest, e.g. gotra or occasion; carried into the booking",
    )


class PlanAddSerializer(serializers.Serializer):
    plan_code = serializers.CharField(max_length=64, help_text="a plan code from /api/catalog/plans/")


_KINDS = {"variant_id": ProductAddSerializer, "package_id": ServiceAddSerializer, "plan_code": PlanAddSerializer}

CART_ADD_REQUEST = PolymorphicProxySerializer(
    component_name="CartAdd",
    serializers=[ProductAddSerializer, ServiceAddSerializer, PlanAddSerializer],
    resource_type_field_name=None,
)


@extend_schema_serializer(component_name="CartItemQuantity")
class QuantityInputSerializer(serializers.Serializer):
    """The PATCH body. It sets the one value a line has, so it is never partial: `quantity` is always required,
    and the schema generator (which marks every PATCH body partial) is told so too."""

    quantity = QuantityField(help_text="1 to 99 for a product line; service and plan lines hold exactly 1")

    @property
    def partial(self) -> bool:
        return False

    @partial.setter
    def partial(self, value: bool) -> None:
        pass


class PromoInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64, help_text="matched case-insensitively")


# --- output ------------------------------------------------------------------------------------------------------


@extend_schema_serializer(component_name="CartItem")
class CartItemOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="item_id")
    kind = serializers.ChoiceField(choices=LineKind.choices)
    variant_id = serializers.IntegerField(allow_null=True, help_text="product lines")
    package_id = serializers.IntegerField(allow_null=True, help_text="service lines")
    plan_code = serializers.CharField(allow_null=True, help_text="plan lines")
    name = serializers.CharField(help_text='e.g. "Brass Diya — Large", "Satyanarayan Puja — Standard", "Monthly Plan"')
    selected_date = serializers.DateField(allow_null=True, help_text="service lines: the slot's date")
    selected_time = HourMinuteField(allow_null=True, help_text="service lines: the slot's time, HH:MM")
    quantity = serializers.IntegerField()
    unit_price = serializers.IntegerField(help_text="paise, the catalog's price now")
    line_total = serializers.IntegerField(help_text="paise, unit_price × quantity")
    discount = serializers.IntegerField(help_text="paise, this line's share of the cart discount")
    total = serializers.IntegerField(help_text="paise, line_total − discount; lines add up to the cart total")
    sku = serializers.CharField(allow_null=True, help_text="product lines")
    product_name = serializers.CharField(allow_null=True)
    variant_name = serializers.CharField(allow_null=True)
    service_id = serializers.IntegerField(allow_null=True)
    service_name = serializers.CharField(allow_null=True)
    package_name = serializers.CharField(allow_null=True)
    duration_days = serializers.IntegerField(allow_null=True, help_text="plan lines")
    stock = serializers.IntegerField(
        allow_null=True,
        help_text="product lines: units this cart can have now (what its own pending checkout holds counts back in)",
    )
    slot_remaining = serializers.IntegerField(
        allow_null=True, help_text="service lines: places left in the slot for this cart now"
    )
    available = serializers.BooleanField(
        help_text="false when there is not enough stock or no place left right now: checkout would answer 409"
    )
    devotee_name = serializers.SerializerMethodField(help_text="service lines: who the service is for")
    note = serializers.SerializerMethodField(help_text="service lines: the customer's note")

    def get_devotee_name(self, line: Any) -> str | None:
        return line.devotee_name if line.kind == LineKind.SERVICE else None

    def get_note(self, line: Any) -> str | None:
        return line.note if line.kind == LineKind.SERVICE else None


@extend_schema_serializer(component_name="Cart")
class CartOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="cart.pk")
    cart_id = serializers.CharField(source="cart.cart_id", help_text='public id, "CART_…"')
    status = serializers.ChoiceField(source="cart.status", choices=CartStatus.choices)
    items = CartItemOutputSerializer(many=True, source="lines")
    items_count = serializers.IntegerField(help_text="units in the cart: the sum of the line quantities")
    subtotal = serializers.IntegerField(help_text="paise")
    discount = serializers.IntegerField(help_text="paise, never more than the subtotal")
    total = serializers.IntegerField(help_text="paise, subtotal − discount")
    promo_code = serializers.CharField(source="promo.code", allow_null=True, help_text="null when there is none")
    currency = serializers.SerializerMethodField()
    promo_notice = serializers.CharField(help_text='why a promo code dropped off the cart ("" if none)')
    notices = serializers.ListField(
        child=serializers.CharField(), help_text="why lines dropped off the cart since it was last changed"
    )

    def get_currency(self, priced: PricedCart) -> str:
        return CURRENCY


_SLOT_TIME = HourMinuteField()


def _item_body(line: PricedLine) -> dict[str, Any]:
    service = line.kind == LineKind.SERVICE
    return {
        "id": line.item_id,
        "kind": line.kind,
        "variant_id": line.variant_id,
        "package_id": line.package_id,
        "plan_code": line.plan_code,
        "name": line.name,
        "selected_date": None if line.selected_date is None else line.selected_date.isoformat(),
        "selected_time": None if line.selected_time is None else _SLOT_TIME.to_representation(line.selected_time),
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "line_total": line.line_total,
        "discount": line.discount,
        "total": line.total,
        "sku": line.sku,
        "product_name": line.product_name,
        "variant_name": line.variant_name,
        "service_id": line.service_id,
        "service_name": line.service_name,
        "package_name": line.package_name,
        "duration_days": line.duration_days,
        "stock": line.stock,
        "slot_remaining": line.slot_remaining,
        "available": line.available,
        "devotee_name": line.devotee_name if service else None,
        "note": line.note if service else None,
    }


def cart_body(priced: PricedCart) -> dict[str, Any]:
    """What CartOutputSerializer renders, key for key (test_cart_body_is_what_the_serializer_renders), built
    directly: every cart answer goes through here, and the serializer's per-call field copies cost more than the
    cart's one statement. The serializer stays the schema's description of it."""
    return {
        "id": priced.cart.pk,
        "cart_id": priced.cart.cart_id,
        "status": priced.cart.status,
        "items": [_item_body(line) for line in priced.lines],
        "items_count": priced.items_count,
        "subtotal": priced.subtotal,
        "discount": priced.discount,
        "total": priced.total,
        "promo_code": None if priced.promo is None else priced.promo.code,
        "currency": CURRENCY,
        "promo_notice": priced.promo_notice,
        "notices": list(priced.notices),
    }


def _cart_response(priced: PricedCart, code: int = status.HTTP_200_OK) -> Response:
    return Response(cart_body(priced), status=code)


# --- errors, as the schema describes them -----------------------------------------------------------------------


def _error(name: str, codes: list[str], description: str) -> OpenApiResponse:
    """The one error shape with `code` narrowed to the codes this endpoint can answer with."""
    return coded_error_response(
        component=f"{name}Error",
        detail_component=f"{name}ErrorDetail",
        codes=codes,
        description=description,
        with_help=True,
    )


def _same_error(response: OpenApiResponse, description: str) -> OpenApiResponse:
    """Another description for an error body already defined (one component, so one enum, per body)."""
    return OpenApiResponse(response.response, description=description)


UNAUTHORIZED = _error(
    "CartUnauthorized", ["not_authenticated", "authentication_failed"], "Not signed in, or the token is not valid."
)
ITEM_NOT_FOUND = _error("CartNotFound", ["not_found"], "No such line in your ACTIVE cart (another user's lines too).")


# --- views -------------------------------------------------------------------------------------------------------


class CartApi(ReadsSignedInUserApi):  # its GET reads the user's row in its own statement (services.read_cart)
    @extend_schema(
        tags=["cart"],
        operation_id="cart_retrieve",
        summary="The signed-in user's active cart, priced now (created on first use)",
        responses={200: CartOutputSerializer, 401: UNAUTHORIZED},
    )
    def get(self, request: Request) -> Response:
        return _cart_response(services.read_cart(user=request.user))

    @extend_schema(
        tags=["cart"],
        operation_id="cart_empty",
        summary="Empty the cart: every line and the promo code go; the cart stays ACTIVE",
        responses={200: CartOutputSerializer, 401: UNAUTHORIZED},
    )
    def delete(self, request: Request) -> Response:
        return _cart_response(services.empty_cart(user=request.user))


class CartAddApi(APIView):
    @extend_schema(
        tags=["cart"],
        operation_id="cart_add",
        summary="Add a product variant, a service package on a slot, or a plan",
        description=(
            "Send exactly one of `{variant_id, quantity}`, `{package_id, selected_date, selected_time}` or "
            "`{plan_code}`. Prices always come from the catalog; price-like fields are ignored. Adding a variant "
            "already in the cart adds to its line; the same package and slot, or the same plan, again leaves the "
            "cart as it is."
        ),
        request=CART_ADD_REQUEST,
        responses={
            201: CartOutputSerializer,
            400: _error(
                "CartAddBadRequest",
                ["invalid_input", "malformed_request", "invalid_quantity", "slot_not_available"],
                "`invalid_input` (with `fields`): not exactly one kind of line, or a malformed field; "
                "`malformed_request`: the body is not JSON; "
                "`invalid_quantity`: quantity not 1–99 in the line (service and plan lines hold 1); "
                "`slot_not_available`: no such slot for the package's service, or it has passed (Asia/Kolkata).",
            ),
            401: UNAUTHORIZED,
            404: _same_error(ITEM_NOT_FOUND, "No such active variant, package or plan."),
            409: _error(
                "CartAddConflict",
                ["insufficient_stock", "slot_full"],
                "`insufficient_stock`: the line would hold more than can be bought now; "
                "`slot_full`: no place left in the slot.",
            ),
        },
        examples=[
            OpenApiExample("product", value={"variant_id": 3, "quantity": 2}, request_only=True),
            OpenApiExample(
                "service",
                value={"package_id": 1, "selected_date": "2026-12-01", "selected_time": "10:00"},
                request_only=True,
            ),
            OpenApiExample("plan", value={"plan_code": "monthly"}, request_only=True),
        ],
    )
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        sent = [key for key in _KINDS if data.get(key) is not None]
        if len(sent) != 1:
            message = "Send exactly one of variant_id, package_id or plan_code."
            raise serializers.ValidationError({key: [message] for key in (sent or list(_KINDS))})
        kind = sent[0]
        parsed = _KINDS[kind](data=data)
        parsed.is_valid(raise_exception=True)
        values = parsed.validated_data
        if kind == "variant_id":
            priced = services.add_product(
                user=request.user, variant_id=values["variant_id"], quantity=values["quantity"]
            )
        else:
            # A service or plan line holds exactly 1; a quantity sent with one is checked, not silently dropped.
            quantity = QuantityField().to_internal_value(data["quantity"]) if "quantity" in data else 1
            if kind == "package_id":
                priced = services.add_service(
                    user=request.user,
                    package_id=values["package_id"],
                    selected_date=values["selected_date"],
                    selected_time=values["selected_time"],
                    quantity=quantity,
                    devotee_name=values.get("devotee_name"),
                    note=values.get("note"),
                )
            else:
                priced = services.add_plan(user=request.user, plan_code=values["plan_code"], quantity=quantity)
        return _cart_response(priced, status.HTTP_201_CREATED)


def _item_id(item_id: int) -> int:
    if not 1 <= item_id <= MAX_ID:
        raise CartItemNotFound()
    return item_id


class CartItemApi(APIView):
    @extend_schema(
        tags=["cart"],
        operation_id="cart_item_update",
        summary="Set a line's quantity",
        request=QuantityInputSerializer,
        responses={
            200: CartOutputSerializer,
            400: _error(
                "CartItemUpdateBadRequest",
                ["invalid_input", "malformed_request", "invalid_quantity"],
                "`invalid_input`: no `quantity`; `malformed_request`: the body is not JSON; "
                "`invalid_quantity`: not 1–99 for a product line, or not 1 for a service or plan line.",
            ),
            401: UNAUTHORIZED,
            404: ITEM_NOT_FOUND,
            409: _error("CartItemUpdateConflict", ["insufficient_stock"], "More than can be bought now."),
        },
    )
    def patch(self, request: Request, item_id: int) -> Response:
        data = QuantityInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _cart_response(
            services.update_item_quantity(
                user=request.user, item_id=_item_id(item_id), quantity=data.validated_data["quantity"]
            )
        )

    @extend_schema(
        tags=["cart"],
        operation_id="cart_item_remove",
        summary="Remove a line",
        responses={200: CartOutputSerializer, 401: UNAUTHORIZED, 404: ITEM_NOT_FOUND},
    )
    def delete(self, request: Request, item_id: int) -> Response:
        return _cart_response(services.remove_item(user=request.user, item_id=_item_id(item_id)))


class CartPromoApi(APIView):
    @extend_schema(
        tags=["cart"],
        operation_id="cart_promo_apply",
        summary="Apply a promo code (replacing any other)",
        description="Usage is counted only when a payment that used the code is captured, not here.",
        request=PromoInputSerializer,
        responses={
            200: CartOutputSerializer,
            400: _error(
                "CartPromoBadRequest",
                ["invalid_input", "malformed_request", "invalid_promo_code"],
                "`invalid_input`: no `code`; `malformed_request`: the body is not JSON; `invalid_promo_code`: "
                "unknown, inactive, expired or not yet valid, used up (in total or by you), "
                "below its minimum subtotal, or for a kind of line the cart does not hold. The message says which.",
            ),
            401: UNAUTHORIZED,
        },
    )
    def post(self, request: Request) -> Response:
        data = PromoInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _cart_response(services.apply_promo(user=request.user, code=data.validated_data["code"]))

    @extend_schema(
        tags=["cart"],
        operation_id="cart_promo_remove",
        summary="Remove the promo code",
        responses={200: CartOutputSerializer, 401: UNAUTHORIZED},
    )
    def delete(self, request: Request) -> Response:
        return _cart_response(services.remove_promo(user=request.user))
