"""Seed 002's and 004's payment endpoints (API.md, "Seed-compatible endpoints and fields").

Each is create-from-cart (services.create_payment_for_cart) under the seeds' names and answer shapes: the same
server-side prices, reservations, pending-payment reuse, Idempotency-Key and errors. The cart is named by its
`cart_id` or numeric `id` and must be the caller's own active cart; it is never another cart that gets paid.
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payfirst.accounts.models import User
from payfirst.cart.models import CartStatus
from payfirst.cart.selectors import own_cart_by_reference
from payfirst.core.errors import InvalidState, NotFound
from payfirst.fulfilment.selectors import fulfilment_refs, payment_booking
from payfirst.payments import services
from payfirst.payments.idempotency import respond_idempotently
from payfirst.payments.models import Payment
from payfirst.payments.selectors import payment_status_label
from payfirst.payments.serializers import CheckoutOutput

TAGS = ["payments (seed-compatible)"]


def _error(name: str, codes: list[str], description: str) -> OpenApiResponse:
    """The one error shape with `code` narrowed to the codes this endpoint can answer with."""
    detail = inline_serializer(
        name=f"{name}Detail",
        fields={
            "code": serializers.ChoiceField(choices=codes),
            "message": serializers.CharField(),
            "fields": serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False),
        },
    )
    return OpenApiResponse(
        description=f"{description} Codes: {', '.join(f'`{code}`' for code in codes)}.",
        response=inline_serializer(name=name, fields={"error": detail}),
    )


UNAUTHORIZED = _error("SeedPaymentNotSignedIn", ["not_authenticated", "authentication_failed"], "Sign in first.")
GATEWAY_ERROR = _error("SeedPaymentGatewayError", ["gateway_error"], "The gateway did not answer; retrying is safe.")

CART_REFERENCE = serializers.CharField(
    max_length=40, help_text='the cart\'s `cart_id` ("CART_…") or its numeric `id` (a JSON number is fine)'
)
IDEMPOTENCY = OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False)
CART_NOT_FOUND = _error("SeedPaymentCartNotFound", ["not_found"], "No such cart, or another user's.")
CREATE_INVALID = _error(
    "SeedPaymentCreateInvalid",
    [
        "invalid_input",
        "malformed_request",
        "cart_empty",
        "shipping_address_required",
        "invalid_redirect_url",
        "amount_not_payable",
    ],
    "The request or the cart cannot be paid as it is (a cart with products needs create-from-cart and an address).",
)
CREATE_CONFLICT = _error(
    "SeedPaymentCreateConflict",
    ["invalid_state", "insufficient_stock", "slot_full", "payment_in_progress", "idempotency_key_in_use"],
    "`invalid_state`: the cart has already been paid for (or is no longer your active cart); otherwise not enough "
    "stock or places, or the same request is still running. Nothing was charged.",
)
KEY_REUSED = _error("SeedPaymentIdempotencyReused", ["idempotency_key_reused"], "The key was used with another body.")


def _cart_reference(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise serializers.ValidationError("A cart_id string or a numeric cart id.")
    return str(value)


class _CartReferenceField(serializers.CharField):
    """Takes the seeds' string `cart_id` or seed 004's numeric id."""

    def to_internal_value(self, data: Any) -> str:
        return super().to_internal_value(_cart_reference(data))


def pay_named_cart(*, user: User, cart_reference: str, gateway: str, redirect_url: str | None) -> Payment:
    """create-from-cart for the cart the client names, which must be the caller's own ACTIVE cart.

    PhonePe without a redirect_url returns to PHONEPE_SUCCESS_REDIRECT_URL (seed 002's confirmbooking page).
    """
    cart = own_cart_by_reference(user=user, reference=cart_reference)
    if cart.status != CartStatus.ACTIVE:
        raise InvalidState(f"Cart {cart.cart_id} has already been paid for.")
    if gateway == "phonepe" and not redirect_url:
        redirect_url = settings.PHONEPE_SUCCESS_REDIRECT_URL
    result = services.create_payment_for_cart(user=user, gateway=gateway, redirect_url=redirect_url or None)
    if result.payment.cart_id != cart.pk:
        # The named cart was paid and a new one filled in between: this payment is not the one asked for.
        if result.created:
            services.cancel_payment(payment_id=result.payment.pk, actor=user)
        raise InvalidState(f"Cart {cart.cart_id} is no longer your active cart.")
    return result.payment


class SeedCartPaymentApi(APIView):
    class SeedCartPaymentInputSerializer(serializers.Serializer):
        cart_id = _CartReferenceField(max_length=40, help_text=CART_REFERENCE.help_text)
        redirect_url = serializers.CharField(
            required=False,
            allow_blank=True,
            allow_null=True,
            max_length=2000,
            help_text="where the browser returns; default PHONEPE_SUCCESS_REDIRECT_URL",
        )

    @extend_schema(
        tags=TAGS,
        operation_id="payments_cart_create",
        summary="Seed 002: pay your cart with PhonePe",
        description=(
            "create-from-cart with `gateway: phonepe` for the named cart (your active cart). Without `redirect_url` "
            "the browser comes back to PHONEPE_SUCCESS_REDIRECT_URL (PHONEPE_FAILED_REDIRECT_URL when the payment "
            "failed) with `?payment_id=&status=&redirect_source=phonepe`. `amount` is in paise. 201 also when the "
            "cart's identical pending payment is returned. Honours `Idempotency-Key`."
        ),
        parameters=[IDEMPOTENCY],
        request=SeedCartPaymentInputSerializer,
        responses={
            201: inline_serializer(
                name="SeedCartPaymentOutput",
                fields={
                    "success": serializers.BooleanField(),
                    "message": serializers.CharField(),
                    "data": inline_serializer(
                        name="SeedCartPaymentData",
                        fields={
                            "payment_order": inline_serializer(
                                name="SeedPaymentOrder",
                                fields={
                                    "id": serializers.IntegerField(help_text="the payment's id"),
                                    "merchant_order_id": serializers.CharField(
                                        help_text="payfirst's reference, PhonePe's merchantOrderId"
                                    ),
                                    "amount": serializers.IntegerField(help_text="paise"),
                                    "cart_id": serializers.CharField(),
                                    "status": serializers.CharField(help_text="the Payment's status, e.g. PENDING"),
                                    "phonepe_payment_url": serializers.URLField(help_text="PhonePe's hosted page"),
                                    "created_at": serializers.DateTimeField(),
                                },
                            )
                        },
                    ),
                },
            ),
            400: CREATE_INVALID,
            401: UNAUTHORIZED,
            404: CART_NOT_FOUND,
            409: CREATE_CONFLICT,
            422: KEY_REUSED,
            502: GATEWAY_ERROR,
        },
    )
    def post(self, request: Request) -> Response:
        def create() -> Response:
            data = self.SeedCartPaymentInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            payment = pay_named_cart(
                user=cast(User, request.user),
                cart_reference=data.validated_data["cart_id"],
                gateway="phonepe",
                redirect_url=data.validated_data.get("redirect_url"),
            )
            order = {
                "id": payment.pk,
                "merchant_order_id": payment.reference,
                "amount": payment.amount,
                "cart_id": payment.cart.cart_id,
                "status": payment.status,
                "phonepe_payment_url": (payment.checkout or {}).get("redirect_url"),
                "created_at": serializers.DateTimeField().to_representation(payment.created_at),
            }
            return Response(
                {"success": True, "message": "Payment order created for cart", "data": {"payment_order": order}},
                status=status.HTTP_201_CREATED,
            )

        return respond_idempotently(request=request, view=self, handler=create)


class SeedProcessCartApi(APIView):
    class SeedProcessCartInputSerializer(serializers.Serializer):
        cart_id = _CartReferenceField(max_length=40, help_text=CART_REFERENCE.help_text)
        method = serializers.CharField(max_length=16, help_text='"PHONEPE" or "RAZORPAY" (any case)')

        def validate_method(self, value: str) -> str:
            method = value.strip().lower()
            if method not in ("phonepe", "razorpay"):
                raise serializers.ValidationError('Must be "PHONEPE" or "RAZORPAY".')
            return method

    @extend_schema(
        tags=TAGS,
        operation_id="payments_process_cart",
        summary="Seed 004: pay your cart (payment first, the booking after capture)",
        description=(
            "create-from-cart for the named cart (your active cart). PhonePe: `payment_url` is the hosted page "
            "and the browser returns to PHONEPE_SUCCESS_REDIRECT_URL. Razorpay: `payment_url` is null and "
            "`checkout` holds Checkout's options. `amount` is in paise. Poll "
            "/api/payments/{payment_id}/check-booking/ for the booking. Honours `Idempotency-Key`."
        ),
        parameters=[IDEMPOTENCY],
        request=SeedProcessCartInputSerializer,
        responses={
            201: inline_serializer(
                name="SeedProcessCartOutput",
                fields={
                    "success": serializers.BooleanField(),
                    "payment_id": serializers.IntegerField(),
                    "payment_url": serializers.URLField(allow_null=True, help_text="PhonePe's hosted page"),
                    "amount": serializers.IntegerField(help_text="paise"),
                    "status": serializers.CharField(help_text="the Payment's status, e.g. PENDING"),
                    "checkout": CheckoutOutput(required=False, help_text="Razorpay only"),
                },
            ),
            400: CREATE_INVALID,
            401: UNAUTHORIZED,
            404: CART_NOT_FOUND,
            409: CREATE_CONFLICT,
            422: KEY_REUSED,
            502: GATEWAY_ERROR,
        },
    )
    def post(self, request: Request) -> Response:
        def create() -> Response:
            data = self.SeedProcessCartInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            gateway = data.validated_data["method"]
            payment = pay_named_cart(
                user=cast(User, request.user),
                cart_reference=data.validated_data["cart_id"],
                gateway=gateway,
                redirect_url=None,
            )
            checkout = dict(payment.checkout or {})
            answer: dict[str, Any] = {
                "success": True,
                "payment_id": payment.pk,
                "payment_url": checkout.get("redirect_url") if gateway == "phonepe" else None,
                "amount": payment.amount,
                "status": payment.status,
            }
            if gateway == "razorpay":
                answer["checkout"] = checkout
            return Response(answer, status=status.HTTP_201_CREATED)

        return respond_idempotently(request=request, view=self, handler=create)


class SeedPaymentStatusApi(APIView):
    @extend_schema(
        tags=TAGS,
        operation_id="payments_status_by_merchant_order",
        summary="Seed 002: one of your payments by its merchant order id, as cart/status answers",
        description=(
            "`merchant_order_id`: payfirst's reference (PhonePe's merchantOrderId) or the gateway's order id "
            "(Razorpay's `order_…`). Another user's payment is 404 like a missing one."
        ),
        responses={
            200: inline_serializer(
                name="SeedPaymentStatusOutput",
                fields={
                    "success": serializers.BooleanField(),
                    "data": inline_serializer(
                        name="SeedPaymentStatusData",
                        fields={
                            "cart_id": serializers.CharField(),
                            "payment_status": serializers.CharField(),
                            "payment_amount": serializers.IntegerField(help_text="paise"),
                            "merchant_order_id": serializers.CharField(),
                            "booking_created": serializers.BooleanField(),
                            "booking_id": serializers.CharField(allow_null=True),
                            "cart_status": serializers.CharField(),
                            "payment_created_at": serializers.DateTimeField(),
                            "payment_completed_at": serializers.DateTimeField(allow_null=True),
                        },
                    ),
                },
            ),
            401: UNAUTHORIZED,
            404: _error("SeedPaymentStatusNotFound", ["not_found"], "No such payment, or another user's."),
        },
    )
    def get(self, request: Request, merchant_order_id: str) -> Response:
        payment = _own_payment_by_order_id(user=cast(User, request.user), merchant_order_id=merchant_order_id)
        booking = payment_booking(payment_id=payment.pk)
        refs = fulfilment_refs(payment_ids=[payment.pk])[payment.pk]
        when = serializers.DateTimeField()
        data = {
            "cart_id": payment.cart.cart_id,
            "payment_status": payment_status_label(payment=payment, is_fulfilled=bool(refs)),
            "payment_amount": payment.amount,
            "merchant_order_id": payment.reference,
            "booking_created": booking is not None,
            "booking_id": booking["book_id"] if booking is not None else None,
            "cart_status": payment.cart.status,
            "payment_created_at": when.to_representation(payment.created_at),
            "payment_completed_at": when.to_representation(payment.captured_at) if payment.captured_at else None,
        }
        return Response({"success": True, "data": data})


def _own_payment_by_order_id(*, user: User, merchant_order_id: str) -> Payment:
    if not 0 < len(merchant_order_id) <= 64:
        raise NotFound("Payment not found.")
    own = Payment.objects.select_related("cart").filter(user=user)
    payment = own.filter(reference=merchant_order_id).first() or own.filter(gateway_order_id=merchant_order_id).first()
    if payment is None:
        raise NotFound("Payment not found.")
    return payment
