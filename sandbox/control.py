"""The sandbox's control panel, beside the imitated gateways: its error shape and pagination, the list of webhook
deliveries with every attempt, re-enabling a disabled webhook endpoint, and `trigger` (send one signed event about an
order now, in the spirit of `stripe trigger`). payfirst's `manage.py sandbox` command is an HTTP client of these."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import Http404, HttpRequest, JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions as drf
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback

from sandbox.models import (
    Fault,
    Job,
    PhonePeOrder,
    PhonePeRefund,
    PhonePeTransaction,
    RazorpayOrder,
    RazorpayPayment,
    RazorpayRefund,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from sandbox.phonepe.selectors import order_status, refund_status
from sandbox.razorpay.selectors import envelope, order_entity, payment_entity, refund_entity
from sandbox.webhooks import OutgoingEvent, emit, enable_endpoint, webhook_url

RAZORPAY_EVENTS = (
    "payment.authorized",
    "payment.captured",
    "payment.failed",
    "order.paid",
    "refund.created",
    "refund.processed",
    "refund.failed",
)
PHONEPE_EVENTS = {
    "checkout.order.completed": "CHECKOUT_ORDER_COMPLETED",
    "checkout.order.failed": "CHECKOUT_ORDER_FAILED",
    "checkout.transaction.attempt.failed": "CHECKOUT_TRANSACTION_ATTEMPT_FAILED",
    "pg.refund.accepted": "PG_REFUND_ACCEPTED",
    "pg.refund.completed": "PG_REFUND_COMPLETED",
    "pg.refund.failed": "PG_REFUND_FAILED",
}


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The control endpoints answer {"error": {"code", "message", "fields"?}}; the gateway imitations render their
    own gateway's shape before this is reached."""
    if isinstance(exc, Http404):
        body, code = error_body("not_found", "Not found."), 404
    elif isinstance(exc, drf.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        body, code = error_body("invalid_input", "Check the highlighted fields.", detail), 400
    elif isinstance(exc, drf.APIException):
        body, code = error_body(str(exc.default_code), str(exc.detail)), exc.status_code
    else:
        return None
    set_rollback()
    return Response(body, status=code)


class PagePagination(PageNumberPagination):
    """`?page=N`; answers {"count", "next", "previous", "results"}."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 200


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


class DeliveryOutput(serializers.ModelSerializer):
    attempts = serializers.SerializerMethodField()

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "gateway",
            "event",
            "event_id",
            "subject",
            "url",
            "body",
            "state",
            "is_duplicate",
            "created_at",
            "next_attempt_at",
            "delivered_at",
            "attempts",
        ]

    def get_attempts(self, delivery: WebhookDelivery) -> list[dict[str, Any]]:
        return [
            {
                "number": attempt.number,
                "started_at": attempt.started_at,
                "duration_ms": attempt.duration_ms,
                "status_code": attempt.status_code,
                "error": attempt.error,
            }
            for attempt in delivery.attempt_log.all()
        ]


_CONTROL = {"tags": ["sandbox: control"]}


class DeliveriesApi(APIView):
    """GET /sandbox/control/deliveries/?gateway=&subject=&state=: what was sent, newest first, with each attempt."""

    @extend_schema(operation_id="sandbox_deliveries_list", responses=DeliveryOutput(many=True), **_CONTROL)
    def get(self, request: Request) -> Response:
        deliveries = WebhookDelivery.objects.prefetch_related("attempt_log").order_by("-created_at", "-pk")
        for name in ("gateway", "subject", "state", "event"):
            if request.query_params.get(name):
                deliveries = deliveries.filter(**{name: request.query_params[name]})
        paginator = PagePagination()
        page = paginator.paginate_queryset(deliveries, request, view=self)
        return paginator.get_paginated_response(DeliveryOutput(page, many=True).data)


class ResetApi(APIView):
    """POST /sandbox/control/reset/: forget every order, payment, refund, webhook, job and fault, and enable both
    endpoints (issued PhonePe tokens stay valid). A clean slate for a demo or a test."""

    @extend_schema(operation_id="sandbox_reset", request=None, responses=OpenApiTypes.OBJECT, **_CONTROL)
    def post(self, request: Request) -> Response:
        with transaction.atomic():
            # A delivery thread that finishes a send as the reset runs records its attempt against the delivery row:
            # with every delivery row locked first it waits for the reset, then finds its delivery gone (and logs
            # that), instead of adding an attempt the reset has already passed and failing the reset's DELETE.
            list(WebhookDelivery.objects.select_for_update().values_list("pk", flat=True))
            for model in (
                WebhookAttempt,
                WebhookDelivery,
                Job,
                RazorpayRefund,
                RazorpayPayment,
                RazorpayOrder,
                PhonePeRefund,
                PhonePeTransaction,
                PhonePeOrder,
                Fault,
                WebhookEndpoint,
            ):
                model.objects.all().delete()
        return Response({"reset": True})


class JobsApi(APIView):
    """GET /sandbox/control/jobs/?pending=1: the gateways' own later work (refunds settling, auto-refunds, late
    authorisations, expiries), soonest first."""

    @extend_schema(operation_id="sandbox_jobs_list", responses=OpenApiTypes.OBJECT, **_CONTROL)
    def get(self, request: Request) -> Response:
        jobs = Job.objects.order_by("run_at", "pk")
        if request.query_params.get("pending"):
            jobs = jobs.filter(done_at__isnull=True)
        paginator = PagePagination()
        page = paginator.paginate_queryset(jobs, request, view=self)
        rows = [
            {
                "id": job.pk,
                "kind": job.kind,
                "subject": job.subject,
                "run_at": job.run_at,
                "done_at": job.done_at,
                "outcome": job.outcome,
            }
            for job in page
        ]
        return paginator.get_paginated_response(rows)


class EndpointsApi(APIView):
    """GET: each gateway's webhook endpoint (disabled or not); POST {gateway}: enable it again."""

    class EnableInput(serializers.Serializer):
        gateway = serializers.ChoiceField(choices=Fault.Gateway.values)

    @extend_schema(operation_id="sandbox_endpoints_list", responses=OpenApiTypes.OBJECT, **_CONTROL)
    def get(self, request: Request) -> Response:
        disabled = {row.gateway: row for row in WebhookEndpoint.objects.all()}
        return Response(
            [
                {
                    "gateway": gateway,
                    "url": webhook_url(gateway),
                    "is_disabled": bool(disabled.get(gateway) and disabled[gateway].is_disabled),
                    "disabled_at": disabled[gateway].disabled_at if gateway in disabled else None,
                }
                for gateway in Fault.Gateway.values
            ]
        )

    @extend_schema(
        operation_id="sandbox_endpoints_enable", request=EnableInput, responses=OpenApiTypes.OBJECT, **_CONTROL
    )
    def post(self, request: Request) -> Response:
        data = self.EnableInput(data=request.data)
        data.is_valid(raise_exception=True)
        enable_endpoint(data.validated_data["gateway"])
        return Response({"gateway": data.validated_data["gateway"], "is_disabled": False})


class TriggerApi(APIView):
    """POST {event, order_id}: send one signed event about the order as it is now (its latest payment or refund)."""

    class TriggerInput(serializers.Serializer):
        event = serializers.ChoiceField(choices=[*RAZORPAY_EVENTS, *PHONEPE_EVENTS])
        order_id = serializers.CharField(max_length=64, help_text="Razorpay order_… id or PhonePe merchantOrderId")

    @extend_schema(
        operation_id="sandbox_trigger", request=TriggerInput, responses={201: DeliveryOutput(many=True)}, **_CONTROL
    )
    def post(self, request: Request) -> Response:
        data = self.TriggerInput(data=request.data)
        data.is_valid(raise_exception=True)
        name, order_id = data.validated_data["event"], data.validated_data["order_id"]
        with transaction.atomic():
            if name in PHONEPE_EVENTS:
                gateway, event = "phonepe", _phonepe_event(name, order_id)
            else:
                gateway, event = "razorpay", _razorpay_event(name, order_id)
            deliveries = emit(gateway=gateway, events=[event])
        return Response(DeliveryOutput(deliveries, many=True).data, status=status.HTTP_201_CREATED)


def _missing(message: str) -> drf.ValidationError:
    return drf.ValidationError({"order_id": [message]})


def _razorpay_event(name: str, order_id: str) -> OutgoingEvent:
    order = RazorpayOrder.objects.filter(pk=order_id).first()
    if order is None:
        raise _missing("No Razorpay order with this id.")
    payment = order.payments.order_by("-created_at", "-id").first()
    if payment is None:
        raise _missing("The order has no payment yet: pay it on the hosted page first.")
    if name.startswith("refund."):
        refund = payment.refunds.order_by("-created_at", "-id").first()
        if refund is None:
            raise _missing("The order's latest payment has no refund.")
        payload = {"refund": refund_entity(refund), "payment": payment_entity(payment)}
        return OutgoingEvent(name=name, subject=refund.id, document=envelope(name, payload))
    payload = {"payment": payment_entity(payment)}
    if name == "order.paid":
        payload["order"] = order_entity(order)
    return OutgoingEvent(name=name, subject=payment.id, document=envelope(name, payload))


def _phonepe_event(name: str, order_id: str) -> OutgoingEvent:
    order = PhonePeOrder.objects.filter(merchant_order_id=order_id).first()
    if order is None:
        raise _missing("No PhonePe order with this merchantOrderId.")
    document: dict[str, Any] = {"event": name, "type": PHONEPE_EVENTS[name]}
    if name.startswith("pg.refund."):
        refund = order.refunds.order_by("-created_at", "-pk").first()
        if refund is None:
            raise _missing("The order has no refund.")
        document["payload"] = refund_status(refund)
        return OutgoingEvent(name=name, subject=refund.merchant_refund_id, document=document)
    document["payload"] = order_status(order, details=True)
    return OutgoingEvent(name=name, subject=order.merchant_order_id, document=document)
