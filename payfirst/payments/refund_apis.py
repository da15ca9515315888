"""The refunds endpoint (API.md, Payments): `GET, POST /api/payments/{id}/refunds/`. Staff refund any payment; the
owner may read their own payment's refunds; anyone else gets 404. POST honours `Idempotency-Key`.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payfirst.core.api import PagePagination
from payfirst.core.schema import FORBIDDEN, NOT_AUTHENTICATED, NOT_FOUND, error_response
from payfirst.core.throttling import UserScopedThrottle
from payfirst.payments import selectors
from payfirst.payments.apis import _payment_id
from payfirst.payments.idempotency import respond_idempotently
from payfirst.payments.models import Refund, RefundStatus
from payfirst.payments.refunds import refund_payment
from payfirst.payments.states import EventSource

_MAX_PAISE = 2**63 - 1


@extend_schema_serializer(component_name="Refund")
class RefundOutput(serializers.Serializer):
    id = serializers.IntegerField()
    payment_id = serializers.IntegerField()
    amount = serializers.IntegerField(help_text="paise")
    status = serializers.ChoiceField(choices=RefundStatus.choices)
    reason = serializers.CharField()
    gateway_refund_id = serializers.CharField(help_text="the gateway's refund id; empty until the gateway answers")
    created_at = serializers.DateTimeField()
    processed_at = serializers.DateTimeField(allow_null=True)


@extend_schema_serializer(component_name="PaginatedRefundList")
class RefundPageOutput(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = RefundOutput(many=True)


class PaymentRefundListCreateApi(APIView):
    throttle_classes, throttle_scope = [UserScopedThrottle], "refunds"  # counts the POSTs only

    class PaymentRefundCreateInputSerializer(serializers.Serializer):
        amount = serializers.IntegerField(
            required=False,
            allow_null=True,
            min_value=1,
            max_value=_MAX_PAISE,
            help_text="paise; leave out to refund everything not yet refunded",
        )
        reason = serializers.CharField(max_length=2000, help_text="why; shown in the payment's timeline")
        cancel_fulfilment = serializers.BooleanField(
            required=False,
            default=False,
            help_text="also cancel the payment's unshipped orders, its bookings and subscriptions, giving their stock "
            "and slot places back",
        )

    @extend_schema(
        tags=["payments"],
        operation_id="payments_refunds_list",
        summary="A payment's refunds, newest first (yours; staff: any payment's)",
        parameters=[OpenApiParameter("page", OpenApiTypes.INT, OpenApiParameter.QUERY, required=False)],
        responses={200: RefundPageOutput, 401: NOT_AUTHENTICATED, 404: NOT_FOUND},
    )
    def get(self, request: Request, payment_id: str) -> Response:
        payment = selectors.get_payment(user=request.user, payment_id=_payment_id(payment_id))
        paginator = PagePagination()
        page = paginator.paginate_queryset(
            Refund.objects.filter(payment=payment).order_by("-created_at", "-id"), request, view=self
        )
        return paginator.get_paginated_response(RefundOutput(page, many=True).data)

    @extend_schema(
        tags=["payments"],
        operation_id="payments_refunds_create",
        summary="Refund a payment, fully or in part (staff only)",
        description=(
            "Records the refund (PENDING) under the payment's row lock, so the pending and processed refunds never "
            "add up to more than was captured, then sends it to the gateway under the refund's own reference. "
            "201 with the refund as it stands: PROCESSED, FAILED when the gateway refused it for good (its reason "
            "is on the payment's timeline), or PENDING while the gateway works on it or could not be reached (it is "
            "sent again automatically with capped backoff, never twice, and given up after REFUND_MAX_ATTEMPTS). "
            "Refunds made at the gateway outside payfirst appear in the list too. The payment becomes "
            "PARTIALLY_REFUNDED or REFUNDED as its refunds process. Honours `Idempotency-Key`."
        ),
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False)],
        request=PaymentRefundCreateInputSerializer,
        responses={
            201: RefundOutput,
            400: error_response(
                "`invalid_input` (with `fields`); `refund_exceeds_captured`: the amount is more than is left to "
                "refund (or nothing is left); `invalid_amount`: below the gateways' minimum of 100 paise."
            ),
            401: NOT_AUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: error_response(
                "`invalid_state`: the payment's money was not captured; `idempotency_key_in_use`: the same "
                "request is still running."
            ),
            422: error_response("`idempotency_key_reused`: the key was used with another body."),
        },
    )
    def post(self, request: Request, payment_id: str) -> Response:
        if not request.user.is_staff:
            raise PermissionDenied()

        def create() -> Response:
            payment = selectors.get_payment(user=request.user, payment_id=_payment_id(payment_id))
            data = self.PaymentRefundCreateInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            refund = refund_payment(
                payment_id=payment.pk,
                amount=data.validated_data.get("amount"),
                reason=data.validated_data["reason"],
                actor_id=request.user.pk,
                source=EventSource.API,
                cancel_fulfilment=data.validated_data["cancel_fulfilment"],
            )
            return Response(RefundOutput(refund).data, status=status.HTTP_201_CREATED)

        return respond_idempotently(request=request, view=self, handler=create)
