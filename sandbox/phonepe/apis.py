"""PhonePe Standard Checkout v2 subset under /sandbox/phonepe/ at PhonePe's own paths (OAuth token, pay, order and
transaction status, refund, refund status), `O-Bearer` tokens required, errors in PhonePe's shape; plus the hosted
pay page and the JSON endpoint behind its Pay and Fail buttons."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions as drf
from rest_framework import serializers
from rest_framework.parsers import FormParser
from rest_framework.request import Request
from rest_framework.response import Response

from sandbox.errors import PhonePeApiError
from sandbox.gateway_views import GatewayApiView, drf_error_text
from sandbox.models import PhonePeOrder
from sandbox.money import rupees
from sandbox.phonepe import selectors, services

_PHONEPE_SCHEMA = {
    "tags": ["sandbox: phonepe"],
    "request": OpenApiTypes.OBJECT,
    "responses": {
        200: OpenApiResponse(OpenApiTypes.OBJECT, description="PhonePe's answer, exactly as PhonePe renders it."),
        400: OpenApiResponse(OpenApiTypes.OBJECT, description='PhonePe\'s error: {"code", "message", "data"}'),
        401: OpenApiResponse(OpenApiTypes.OBJECT, description="Missing or unknown O-Bearer token."),
        404: OpenApiResponse(OpenApiTypes.OBJECT, description="No such order, transaction or refund."),
    },
}


def _rate_limited() -> PhonePeApiError:
    return PhonePeApiError("Too many requests", status=429, code="TOO_MANY_REQUESTS")


def _server_error() -> PhonePeApiError:
    return PhonePeApiError("Internal server error", status=500, code="INTERNAL_SERVER_ERROR")


class PhonePeApi(GatewayApiView):
    gateway = "phonepe"
    server_error = staticmethod(_server_error)
    rate_limited = staticmethod(_rate_limited)

    def authenticate_caller(self, request: Request) -> None:
        scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme != "O-Bearer" or not token.strip() or not services.token_is_valid(token=token.strip()):
            raise PhonePeApiError("Unauthorized access", status=401, code="AUTHORIZATION_FAILED")

    def translate(self, exc: drf.APIException) -> PhonePeApiError:
        status = exc.status_code if exc.status_code in (405, 415) else 400
        return PhonePeApiError(drf_error_text(exc), status=status)


class PhonePeTokenApi(PhonePeApi):
    parser_classes = [FormParser]

    def authenticate_caller(self, request: Request) -> None:
        """The token endpoint is where credentials are exchanged; they are checked by the service."""

    @extend_schema(
        operation_id="sandbox_phonepe_oauth_token",
        tags=["sandbox: phonepe"],
        request={"application/x-www-form-urlencoded": OpenApiTypes.OBJECT},
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="access_token, issued_at, expires_at (epoch seconds), token_type O-Bearer",
            ),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="INVALID_CLIENT"),
        },
    )
    def post(self, request: Request) -> Response:
        issued = services.issue_token(form=request.data)
        return Response(
            {
                "access_token": issued.access_token,
                "encrypted_access_token": issued.access_token,
                "expires_in": issued.expires_at - issued.issued_at,
                "issued_at": issued.issued_at,
                "expires_at": issued.expires_at,
                "session_expires_at": issued.expires_at,
                "token_type": "O-Bearer",
            }
        )


class PhonePePayApi(PhonePeApi):
    @extend_schema(operation_id="sandbox_phonepe_pay", **_PHONEPE_SCHEMA)
    def post(self, request: Request) -> Response:
        order = services.create_order(data=request.data)
        page = request.build_absolute_uri(
            reverse("sandbox:phonepe-pay-page", kwargs={"merchant_order_id": order.merchant_order_id})
        )
        return Response(
            {
                "orderId": order.order_id,
                "state": order.state,
                "expireAt": selectors.epoch_ms(order.expire_at),
                "redirectUrl": page,
            }
        )


class PhonePeOrderStatusApi(PhonePeApi):
    @extend_schema(
        operation_id="sandbox_phonepe_order_status",
        parameters=[OpenApiParameter("details", str, description="true/false, any case (the SDK sends True/False)")],
        **_PHONEPE_SCHEMA,
    )
    def get(self, request: Request, merchant_order_id: str) -> Response:
        details = selectors.parse_details(request.query_params.get("details"))
        order = selectors.get_order(merchant_order_id=merchant_order_id)
        return Response(selectors.order_status(order, details=details))


class PhonePeTransactionStatusApi(PhonePeApi):
    @extend_schema(operation_id="sandbox_phonepe_transaction_status", **_PHONEPE_SCHEMA)
    def get(self, request: Request, transaction_id: str) -> Response:
        attempt = selectors.get_transaction(transaction_id=transaction_id)
        return Response(selectors.order_status(attempt.order, details=False, only=attempt))


class PhonePeRefundApi(PhonePeApi):
    @extend_schema(operation_id="sandbox_phonepe_refund", **_PHONEPE_SCHEMA)
    def post(self, request: Request) -> Response:
        refund = services.refund_order(data=request.data)
        return Response({"refundId": refund.refund_id, "amount": refund.amount, "state": refund.state})


class PhonePeRefundStatusApi(PhonePeApi):
    @extend_schema(operation_id="sandbox_phonepe_refund_status", **_PHONEPE_SCHEMA)
    def get(self, request: Request, merchant_refund_id: str) -> Response:
        return Response(selectors.refund_status(selectors.get_refund(merchant_refund_id=merchant_refund_id)))


# Hosted pay page -------------------------------------------------------------------------------------------------


class PhonePePayCompleteApi(PhonePeApi):
    """The JSON endpoint behind the hosted page's buttons: public (it runs in the customer's browser), no faults."""

    uses_faults = False

    def authenticate_caller(self, request: Request) -> None:
        """Public: the hosted page holds no token."""

    class SandboxPhonePeCompleteSerializer(serializers.Serializer):
        outcome = serializers.ChoiceField(
            choices=["success", "failure", "pending"],
            help_text="pending: back to the merchant with the order still PENDING and no callback",
        )

    @extend_schema(
        operation_id="sandbox_phonepe_pay_complete",
        tags=["sandbox: phonepe"],
        request=SandboxPhonePeCompleteSerializer,
        responses={
            200: inline_serializer("SandboxPhonePePayComplete", {"redirect_url": serializers.URLField()}),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="PhonePe's error shape: invalid outcome."),
            404: OpenApiResponse(OpenApiTypes.OBJECT, description="No such order."),
            409: OpenApiResponse(OpenApiTypes.OBJECT, description="The order is no longer payable."),
        },
    )
    def post(self, request: Request, merchant_order_id: str) -> Response:
        outcome = request.data.get("outcome") if isinstance(request.data, dict) else None
        order = services.complete_order(merchant_order_id=merchant_order_id, outcome=str(outcome or ""))
        # PhonePe sends the customer back to the merchant's own URL with no status: the merchant must ask the API.
        return Response({"redirect_url": order.redirect_url})


def phonepe_pay_page(request: HttpRequest, merchant_order_id: str) -> HttpResponse:
    """The page PhonePe's redirectUrl leads to: the amount, a Pay, a Fail and a Leave pending button."""
    order = PhonePeOrder.objects.filter(merchant_order_id=merchant_order_id).first()
    if order is None:
        return render(request, "sandbox/page_error.html", {"message": "No such PhonePe order."}, status=404)
    state, _, _ = selectors.order_state(order)
    context = {
        "order": order,
        "state": state,
        "amount": rupees(order.amount),
        "merchant_name": settings.SANDBOX_MERCHANT_NAME,
        "attempts": order.transactions.order_by("created_at", "pk"),
        "config": {
            "redirect_url": order.redirect_url,
            "complete_url": reverse("sandbox:phonepe-pay-complete", kwargs={"merchant_order_id": merchant_order_id}),
            "payable": state == PhonePeOrder.State.PENDING,
        },
    }
    return render(request, "sandbox/phonepe_pay.html", context)
