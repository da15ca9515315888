"""Razorpay's REST API subset under /sandbox/razorpay/v1/ (HTTP Basic auth with the configured key pair; errors in
Razorpay's shape), plus the hosted checkout page and the JSON endpoint behind its Pay and Fail buttons."""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions as drf
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from sandbox.errors import RazorpayApiError
from sandbox.gateway_views import GatewayApiView, drf_error_text, is_safe_return_url
from sandbox.models import RazorpayOrder, RazorpayPayment
from sandbox.money import rupees
from sandbox.razorpay import selectors, services

_RAZORPAY_SCHEMA = {
    "tags": ["sandbox: razorpay"],
    "request": OpenApiTypes.OBJECT,
    "responses": {
        200: OpenApiResponse(OpenApiTypes.OBJECT, description="The Razorpay entity, exactly as Razorpay renders it."),
        400: OpenApiResponse(
            OpenApiTypes.OBJECT, description='Razorpay\'s error: {"error": {"code", "description", ...}}'
        ),
        401: OpenApiResponse(OpenApiTypes.OBJECT, description="Authentication failed (HTTP Basic key_id:key_secret)."),
    },
}


def _rate_limited() -> RazorpayApiError:
    # Razorpay answers 429 in its usual error shape (the exact description is not documented).
    return RazorpayApiError("Too many requests", status=429, code="BAD_REQUEST_ERROR", reason="rate_limit_exceeded")


def _server_error() -> RazorpayApiError:
    return RazorpayApiError(
        "The server encountered an error. The incident has been reported to admins.", status=500, code="SERVER_ERROR"
    )


class RazorpayApi(GatewayApiView):
    gateway = "razorpay"
    server_error = staticmethod(_server_error)
    rate_limited = staticmethod(_rate_limited)

    def authenticate_caller(self, request: Request) -> None:
        if not _basic_auth_ok(request.META.get("HTTP_AUTHORIZATION", "")):
            raise RazorpayApiError("Authentication failed", status=401)

    def translate(self, exc: drf.APIException) -> RazorpayApiError:
        status = exc.status_code if exc.status_code in (405, 415) else 400
        return RazorpayApiError(drf_error_text(exc), status=status)


def _basic_auth_ok(header: str) -> bool:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return False
    try:
        key_id, sep, key_secret = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    expected_id, expected_secret = settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET
    # Compared as bytes in constant time (compare_digest refuses non-ASCII str); both halves always compared.
    id_ok = hmac.compare_digest(key_id.encode(), expected_id.encode())
    secret_ok = hmac.compare_digest(key_secret.encode(), expected_secret.encode())
    return bool(sep) and bool(expected_id) and bool(expected_secret) and id_ok and secret_ok


class RazorpayOrdersApi(RazorpayApi):
    @extend_schema(operation_id="sandbox_razorpay_orders_list", **_RAZORPAY_SCHEMA)
    def get(self, request: Request) -> Response:
        orders = RazorpayOrder.objects.order_by("-created_at", "-id")
        receipt = request.query_params.get("receipt")
        if receipt:
            orders = orders.filter(receipt=receipt)
        return Response(selectors.collection(map(selectors.order_entity, selectors.page(orders, request.query_params))))

    @extend_schema(operation_id="sandbox_razorpay_orders_create", **_RAZORPAY_SCHEMA)
    def post(self, request: Request) -> Response:
        return Response(selectors.order_entity(services.create_order(data=request.data)))


class RazorpayOrderApi(RazorpayApi):
    @extend_schema(operation_id="sandbox_razorpay_order_fetch", **_RAZORPAY_SCHEMA)
    def get(self, request: Request, order_id: str) -> Response:
        return Response(selectors.order_entity(selectors.get_order(order_id=order_id)))


class RazorpayOrderPaymentsApi(RazorpayApi):
    @extend_schema(operation_id="sandbox_razorpay_order_payments", **_RAZORPAY_SCHEMA)
    def get(self, request: Request, order_id: str) -> Response:
        order = selectors.get_order(order_id=order_id)
        payments = order.payments.order_by("-created_at", "-id")
        return Response(selectors.collection(map(selectors.payment_entity, payments)))


class RazorpayPaymentApi(RazorpayApi):
    @extend_schema(operation_id="sandbox_razorpay_payment_fetch", **_RAZORPAY_SCHEMA)
    def get(self, request: Request, payment_id: str) -> Response:
        return Response(selectors.payment_entity(selectors.get_payment(payment_id=payment_id)))


class RazorpayPaymentCaptureApi(RazorpayApi):
    @extend_schema(operation_id="sandbox_razorpay_payment_capture", **_RAZORPAY_SCHEMA)
    def post(self, request: Request, payment_id: str) -> Response:
        return Response(selectors.payment_entity(services.capture_payment(payment_id=payment_id, data=request.data)))


class RazorpayPaymentRefundApi(RazorpayApi):
    @extend_schema(
        operation_id="sandbox_razorpay_payment_refund",
        description="Refund a captured payment. `X-Refund-Idempotency`: the same key and body return the same refund; "
        "the same key with another body is refused. Receipts are not unique.",
        **_RAZORPAY_SCHEMA,
    )
    def post(self, request: Request, payment_id: str) -> Response:
        result = services.refund_payment(
            payment_id=payment_id, data=request.data, idempotency_key=request.headers.get("X-Refund-Idempotency")
        )
        return Response(selectors.refund_entity(result.refund))


class RazorpayPaymentRefundsApi(RazorpayApi):
    @extend_schema(operation_id="sandbox_razorpay_payment_refunds", **_RAZORPAY_SCHEMA)
    def get(self, request: Request, payment_id: str) -> Response:
        payment = selectors.get_payment(payment_id=payment_id)
        refunds = selectors.page(payment.refunds.order_by("-created_at", "-id"), request.query_params)
        return Response(selectors.collection(map(selectors.refund_entity, refunds)))


class RazorpayPaymentRefundDetailApi(RazorpayApi):
    @extend_schema(operation_id="sandbox_razorpay_payment_refund_fetch", **_RAZORPAY_SCHEMA)
    def get(self, request: Request, payment_id: str, refund_id: str) -> Response:
        return Response(selectors.refund_entity(selectors.get_refund(refund_id=refund_id, payment_id=payment_id)))


class RazorpayRefundApi(RazorpayApi):
    @extend_schema(operation_id="sandbox_razorpay_refund_fetch", **_RAZORPAY_SCHEMA)
    def get(self, request: Request, refund_id: str) -> Response:
        return Response(selectors.refund_entity(selectors.get_refund(refund_id=refund_id)))


class RazorpayUnknownPathApi(RazorpayApi):
    """Any other /v1/ path: Razorpay answers 400 in its own shape (the SDK would choke on an HTML 404)."""

    def _unknown(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise RazorpayApiError("The requested URL was not found on the server.")

    get = post = patch = put = delete = extend_schema(exclude=True)(_unknown)


# Hosted checkout -------------------------------------------------------------------------------------------------


class RazorpayCheckoutPayApi(RazorpayApi):
    """The JSON endpoint behind the hosted page's buttons. Public, like Checkout itself; not subject to API faults."""

    uses_faults = False

    def authenticate_caller(self, request: Request) -> None:
        """Public: Checkout runs in the customer's browser with no secret."""

    class SandboxRazorpayPaySerializer(serializers.Serializer):
        outcome = serializers.ChoiceField(choices=["success", "failure"])
        email = serializers.EmailField(
            required=False, allow_blank=True, help_text="the customer's email, as entered in Checkout"
        )
        contact = serializers.CharField(
            required=False, allow_blank=True, max_length=20, help_text="the customer's phone, as entered in Checkout"
        )

    @extend_schema(
        operation_id="sandbox_razorpay_checkout_pay",
        tags=["sandbox: razorpay"],
        request=SandboxRazorpayPaySerializer,
        responses={
            200: inline_serializer(
                "SandboxRazorpayCheckoutSuccess",
                {
                    "razorpay_payment_id": serializers.CharField(),
                    "razorpay_order_id": serializers.CharField(),
                    "razorpay_signature": serializers.CharField(),
                },
            ),
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="Razorpay's error shape: the payment failed, the "
                "order is unknown or already paid, or the outcome is invalid.",
            ),
        },
    )
    def post(self, request: Request, order_id: str) -> Response:
        data = self.SandboxRazorpayPaySerializer(data=request.data if isinstance(request.data, dict) else {})
        data.is_valid(raise_exception=True)
        customer = {key: data.validated_data.get(key, "") for key in ("email", "contact")}
        result = services.pay_order(order_id=order_id, outcome=data.validated_data["outcome"], customer=customer)
        payment = result.payment
        if payment.status == RazorpayPayment.Status.FAILED:
            error = RazorpayApiError(
                payment.error_description,
                code=payment.error_code,
                source=payment.error_source,
                step=payment.error_step,
                reason=payment.error_reason,
                metadata={"payment_id": payment.id, "order_id": payment.order_id},
            )
            return Response(error.body(), status=error.status)
        return Response(
            {
                "razorpay_payment_id": payment.id,
                "razorpay_order_id": payment.order_id,
                "razorpay_signature": result.signature,
            }
        )


def razorpay_checkout_page(request: HttpRequest, order_id: str) -> HttpResponse:
    """The page standing in for Razorpay Checkout: the order's amount, a Pay and a Fail button. With
    `?callback_url=` the result is form-POSTed there, like Checkout's redirect mode (only to a safe URL)."""
    order = RazorpayOrder.objects.filter(pk=order_id).first()
    if order is None:
        return render(request, "sandbox/page_error.html", {"message": "No such Razorpay order."}, status=404)
    callback_url = request.GET.get("callback_url", "")
    if callback_url and not is_safe_return_url(callback_url, request=request):
        return render(
            request,
            "sandbox/page_error.html",
            {"message": "callback_url must be under the front end, an allowed origin, or this server."},
            status=400,
        )
    # Checkout's own options, which the merchant's page passes to Checkout.js (here as query parameters): the
    # description of what is bought and the customer's prefilled name, email and contact.
    query = request.GET
    customer = {key: query.get(f"prefill[{key}]", "")[:254] for key in ("name", "email", "contact")}
    context = {
        "order": order,
        "amount": rupees(order.amount),
        "merchant_name": settings.SANDBOX_MERCHANT_NAME,
        "description": query.get("description", "")[:500],
        "customer": customer,
        "notes": order.notes or {},
        "config": {
            "pay_url": reverse("sandbox:razorpay-checkout-pay", kwargs={"order_id": order.id}),
            "callback_url": callback_url,
            "order_id": order.id,
            "email": customer["email"],
            "contact": customer["contact"],
        },
    }
    return render(request, "sandbox/razorpay_checkout.html", context)
