"""The payments API (API.md, Payments): thin views that parse the request, call one service or selector and render.

Webhooks and the PhonePe redirect are public; everything else needs a signed-in user and shows only their own
payments (staff may read all). Every error is rendered in the one shape by core.api's exception handler.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.http import HttpResponse, HttpResponseRedirect
from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from payfirst.accounts.selectors import signed_in_user
from payfirst.accounts.signed_in_views import ReadsSignedInUserApi
from payfirst.core.api import PagePagination, error_body
from payfirst.core.errors import NotFound
from payfirst.core.models import MAX_ID
from payfirst.core.schema import RETRY_AFTER, THROTTLED, coded_error_response
from payfirst.core.throttling import UserScopedThrottle, client_ident, quota_for, throttled_response
from payfirst.payments import returns, selectors, services
from payfirst.payments.idempotency import respond_idempotently
from payfirst.payments.models import Payment
from payfirst.payments.return_pages import phonepe_return_target, with_query
from payfirst.payments.seed_serializers import PaymentCreateInputSerializer, with_address_ids
from payfirst.payments.serializers import PaymentOutput, PaymentPageOutput, payment_body
from payfirst.payments.webhooks import receive_webhook

logger = logging.getLogger("payfirst.payments")


def _error(name: str, codes: list[str], description: str) -> OpenApiResponse:
    if "invalid_input" in codes:
        codes = [*codes, "malformed_request"]  # a body that is not JSON, or nested too deep
    return coded_error_response(
        component=name,
        detail_component=f"{name}Detail",
        codes=codes,
        description=f"{description} Codes: {', '.join(f'`{code}`' for code in codes)}.",
        with_help=False,
    )


UNAUTHORIZED = _error("PaymentNotSignedIn", ["not_authenticated", "authentication_failed"], "Sign in first.")
NOT_FOUND = _error("PaymentNotFound", ["not_found"], "No such payment, or another user's.")
GATEWAY_ERROR = _error("PaymentGatewayError", ["gateway_error"], "The gateway did not answer; retrying is safe.")


def render_payment(payment: Payment, *, status_code: int = status.HTTP_200_OK) -> Response:
    refs = selectors.fulfilments_of([payment])
    return Response(payment_body(payment, refs[payment.pk]), status=status_code)


def _payment_id(raw: Any) -> int:
    """A payment id from a path or query string; anything that is not one is simply not found."""
    try:
        value = int(str(raw))
    except ValueError:
        raise NotFound("Payment not found.") from None
    if not 0 < value <= MAX_ID:
        raise NotFound("Payment not found.")
    return value


class PaymentCreateApi(APIView):
    throttle_classes, throttle_scope = [UserScopedThrottle], "payments_create"
    PaymentCreateInputSerializer = PaymentCreateInputSerializer

    @extend_schema(
        tags=["payments"],
        operation_id="payments_create_from_cart",
        summary="Create a payment for the signed-in user's cart",
        description=(
            "Prices the cart on the server (any amount sent is ignored), snapshots it, reserves stock and slot "
            "places until the payment ends, and opens the gateway order. An identical cart with a live pending "
            "payment gets that payment back (200); a changed cart supersedes it (201). Honours `Idempotency-Key`."
        ),
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False)],
        request=PaymentCreateInputSerializer,
        responses={
            201: PaymentOutput,
            200: PaymentOutput,
            400: _error(
                "PaymentCreateInvalid",
                [
                    "invalid_input",
                    "cart_empty",
                    "shipping_address_required",
                    "invalid_redirect_url",
                    "amount_not_payable",
                    "invalid_promo_code",
                ],
                "The request or the cart cannot be paid as it is.",
            ),
            401: UNAUTHORIZED,
            404: _error("PaymentAddressNotFound", ["not_found"], "An address id that is not one of yours."),
            409: _error(
                "PaymentCreateConflict",
                [
                    "insufficient_stock",
                    "slot_full",
                    "payment_in_progress",
                    "idempotency_key_in_use",
                    "too_many_pending_payments",
                    "slot_hold_limit",
                ],
                "Not enough stock or places (nothing was charged), the same request is still running, or a "
                "per-customer cap on pending payments or slot places is reached.",
            ),
            422: _error("PaymentIdempotencyReused", ["idempotency_key_reused"], "The key was used with another body."),
            502: GATEWAY_ERROR,
        },
    )
    def post(self, request: Request) -> Response:
        def create() -> Response:
            data = self.PaymentCreateInputSerializer(data=request.data, context={"user": request.user})
            data.is_valid(raise_exception=True)
            arguments = with_address_ids(user=signed_in_user(request), values=data.validated_data)
            result = services.create_payment_for_cart(user=signed_in_user(request), **arguments)
            return render_payment(
                result.payment, status_code=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
            )

        return respond_idempotently(request=request, view=self, handler=create)


class PaymentConfirmRazorpayApi(APIView):
    throttle_classes, throttle_scope = [UserScopedThrottle], "payments_confirm"

    class PaymentConfirmRazorpayInputSerializer(serializers.Serializer):
        razorpay_payment_id = serializers.CharField(max_length=64)
        razorpay_order_id = serializers.CharField(max_length=64)
        razorpay_signature = serializers.CharField(max_length=256)

    @extend_schema(
        tags=["payments"],
        operation_id="payments_confirm_razorpay",
        summary="Confirm a Razorpay Checkout result",
        description=(
            "Verifies Checkout's signature (a bad one changes nothing), then asks Razorpay for the payment's real "
            "status and records it. `status` is `success` only once the payment is CAPTURED and fulfilled."
        ),
        request=PaymentConfirmRazorpayInputSerializer,
        responses={
            200: inline_serializer(
                name="PaymentConfirmOutput",
                fields={
                    "status": serializers.ChoiceField(choices=["success", "pending", "failed"]),
                    "payment": PaymentOutput(),
                    "order_id": serializers.IntegerField(allow_null=True, help_text="seed 000: the order made"),
                    "booking_id": serializers.CharField(allow_null=True, help_text='the booking\'s book_id, "BK-…"'),
                },
            ),
            400: _error("PaymentConfirmInvalid", ["invalid_input", "invalid_signature"], "Bad fields or signature."),
            401: UNAUTHORIZED,
            404: NOT_FOUND,
            502: GATEWAY_ERROR,
        },
    )
    def post(self, request: Request) -> Response:
        data = self.PaymentConfirmRazorpayInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        returned = returns.confirm_razorpay(user=request.user, fields=data.validated_data)
        payment, refs, outcome = returned.payment, returned.fulfilments, returned.outcome
        made = refs[payment.pk]
        return Response(
            {
                "status": outcome,
                "payment": payment_body(payment, made),
                "order_id": next((ref.id for ref in made if ref.type == "order"), None),
                "booking_id": next((ref.reference for ref in made if ref.type == "booking"), None),
            }
        )


class PaymentListApi(APIView):
    @extend_schema(
        tags=["payments"],
        operation_id="payments_list",
        summary="Your payments, newest first (staff: everyone's)",
        parameters=[OpenApiParameter("page", OpenApiTypes.INT, OpenApiParameter.QUERY, required=False)],
        responses={200: PaymentPageOutput, 401: UNAUTHORIZED},
    )
    def get(self, request: Request) -> Response:
        paginator = PagePagination()
        page = paginator.paginate_queryset(selectors.payments_visible_to(user=request.user), request, view=self)
        refs = selectors.fulfilments_of(page or [])
        return paginator.get_paginated_response([payment_body(payment, refs[payment.pk]) for payment in page or []])


class PaymentDetailApi(ReadsSignedInUserApi):  # its GET reads the user's row in its own statement (selectors)
    @extend_schema(
        tags=["payments"],
        operation_id="payments_retrieve",
        summary="One of your payments (staff: any)",
        responses={200: PaymentOutput, 401: UNAUTHORIZED, 404: NOT_FOUND},
    )
    def get(self, request: Request, payment_id: str) -> Response:
        payment, refs = selectors.payment_with_fulfilments(user=request.user, payment_id=_payment_id(payment_id))
        return Response(payment_body(payment, refs))


class PaymentCancelApi(APIView):
    throttle_classes, throttle_scope = [UserScopedThrottle], "payments_cancel"

    @extend_schema(
        tags=["payments"],
        operation_id="payments_cancel",
        summary="Cancel one of your pending payments and release what it reserved",
        request=None,
        responses={
            200: PaymentOutput,
            401: UNAUTHORIZED,
            404: NOT_FOUND,
            409: _error("PaymentNotCancellable", ["invalid_state"], "Only a PENDING payment can be cancelled."),
        },
    )
    def post(self, request: Request, payment_id: str) -> Response:
        payment = selectors.own_payment(user=request.user, payment_id=_payment_id(payment_id))
        services.cancel_payment(payment_id=payment.pk, actor=signed_in_user(request))
        return render_payment(selectors.get_payment(user=request.user, payment_id=payment.pk))


class PaymentCheckBookingApi(APIView):
    @extend_schema(
        tags=["payments"],
        operation_id="payments_check_booking",
        summary="Whether the payment has produced its booking yet",
        description="`payment_status`: " + (selectors.payment_status_label.__doc__ or "").split(":", 1)[-1].strip(),
        responses={
            200: inline_serializer(
                name="PaymentCheckBookingOutput",
                fields={
                    "success": serializers.BooleanField(),
                    "payment_status": serializers.CharField(),
                    "booking_created": serializers.BooleanField(),
                    "booking": inline_serializer(
                        name="PaymentBookingSummary",
                        fields={
                            "book_id": serializers.CharField(),
                            "status": serializers.CharField(),
                            "total": serializers.IntegerField(help_text="paise"),
                        },
                        allow_null=True,
                    ),
                },
            ),
            401: UNAUTHORIZED,
            404: NOT_FOUND,
        },
    )
    def get(self, request: Request, payment_id: str) -> Response:
        payment = selectors.get_payment(user=request.user, payment_id=_payment_id(payment_id))
        return Response(selectors.booking_check(payment=payment))


class CartPaymentStatusApi(APIView):
    @extend_schema(
        tags=["payments"],
        operation_id="payments_cart_status",
        summary="The payment status of one of your carts (seed-compatible)",
        description=(
            "The cart's payment that matters most: a captured one, else the pending one, else the newest. "
            "`merchant_order_id` is payfirst's payment reference (PhonePe's merchantOrderId, Razorpay's receipt). "
            "`payment_status`: " + (selectors.payment_status_label.__doc__ or "").split(":", 1)[-1].strip()
        ),
        responses={
            200: inline_serializer(
                name="PaymentCartStatusOutput",
                fields={
                    "success": serializers.BooleanField(),
                    "data": inline_serializer(
                        name="PaymentCartStatusData",
                        fields={
                            "cart_id": serializers.CharField(),
                            "payment_status": serializers.CharField(),
                            "payment_amount": serializers.IntegerField(allow_null=True, help_text="paise"),
                            "merchant_order_id": serializers.CharField(allow_null=True),
                            "booking_created": serializers.BooleanField(),
                            "booking_id": serializers.CharField(allow_null=True),
                            "cart_status": serializers.CharField(),
                            "payment_created_at": serializers.DateTimeField(allow_null=True),
                            "payment_completed_at": serializers.DateTimeField(allow_null=True),
                        },
                    ),
                },
            ),
            401: UNAUTHORIZED,
            404: _error("PaymentCartNotFound", ["not_found"], "No such cart, or another user's."),
        },
    )
    def get(self, request: Request, cart_id: str) -> Response:
        answer = selectors.cart_payment_status(user=request.user, cart_id=cart_id)
        data = answer["data"]
        for name in ("payment_created_at", "payment_completed_at"):
            if data[name] is not None:
                data[name] = serializers.DateTimeField().to_representation(data[name])
        return Response(answer)


class RedirectThrottle(AnonRateThrottle):
    """Each public redirect makes a call to PhonePe's status API: a browser needs one, a loop gets 429."""

    scope = "payments_redirect"
    rate = "60/minute"

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class PhonePeRedirectApi(APIView):
    """Where PhonePe sends the browser after paying. The redirect carries no trustworthy status, so PhonePe's
    status API is asked first; then the browser goes on to the payment's redirect_url."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [RedirectThrottle]

    @extend_schema(
        tags=["payments"],
        operation_id="payments_redirect_phonepe",
        summary="PhonePe's return address (public): ask PhonePe, then redirect to the front end",
        parameters=[
            OpenApiParameter("payment_id", OpenApiTypes.INT, OpenApiParameter.QUERY, required=True),
            OpenApiParameter(
                "token",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=True,
                description="the unguessable value payfirst put in the return URL it gave PhonePe",
            ),
        ],
        responses={
            302: OpenApiResponse(
                description="To the payment's redirect_url with `?payment_id=&status=&redirect_source=phonepe` "
                "(a failed payment that used PHONEPE_SUCCESS_REDIRECT_URL goes to PHONEPE_FAILED_REDIRECT_URL)."
            ),
            200: inline_serializer(
                name="PhonePeRedirectOutput",
                fields={
                    "payment_id": serializers.IntegerField(),
                    "status": serializers.ChoiceField(choices=["success", "pending", "failed"]),
                },
            ),
            404: _error("PaymentRedirectNotFound", ["not_found"], "No such payment, or the token is missing or wrong."),
            429: _error("PaymentRedirectThrottled", ["throttled"], "Too many redirects from this client."),
        },
    )
    def get(self, request: Request) -> HttpResponse:
        payment_id = _payment_id(request.query_params.get("payment_id", ""))
        token = str(request.query_params.get("token", ""))[:128]
        returned = returns.return_from_phonepe(payment_id=payment_id, token=token)
        payment, outcome = returned.payment, returned.outcome
        if not payment.redirect_url:
            return Response({"payment_id": payment.pk, "status": outcome})
        return HttpResponseRedirect(
            phonepe_return_target(redirect_url=payment.redirect_url, payment_id=payment.pk, outcome=outcome)
        )


class _SeeOther(HttpResponseRedirect):
    status_code = 303  # after a POST the browser follows with a GET


class RazorpayCallbackApi(APIView):
    """Razorpay Checkout's redirect mode (`callback_url`): the customer's browser form-POSTs Checkout's result here.
    Public: the signature is the proof; a failure's `error[...]` fields prove nothing and change nothing."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []  # also makes DRF skip CSRF: Razorpay's page posts the form
    parser_classes = [FormParser]
    throttle_classes = [RedirectThrottle]

    @extend_schema(
        tags=["payments"],
        operation_id="payments_callback_razorpay",
        summary="Razorpay Checkout's redirect-mode callback (public; the signature is the proof)",
        description=(
            "Checkout's form POST: `razorpay_payment_id`, `razorpay_order_id`, `razorpay_signature` on success, "
            "or `error[code]`, `error[description]`, `error[source]`, `error[step]`, `error[reason]`, "
            "`error[metadata]` (JSON naming `order_id` and `payment_id`) on failure. A success is verified and goes "
            "through the capture door; a failure is written on the payment's timeline and Razorpay is asked. Then "
            "303 to the payment's redirect_url with `?payment_id=&status=` (200 with the same two fields when the "
            "payment has no redirect_url)."
        ),
        request={
            "application/x-www-form-urlencoded": inline_serializer(
                name="RazorpayCallbackForm",
                fields={
                    "razorpay_payment_id": serializers.CharField(required=False),
                    "razorpay_order_id": serializers.CharField(required=False),
                    "razorpay_signature": serializers.CharField(required=False),
                    "error[code]": serializers.CharField(required=False),
                    "error[description]": serializers.CharField(required=False),
                    "error[metadata]": serializers.CharField(required=False),
                },
            )
        },
        responses={
            303: OpenApiResponse(description="To the payment's redirect_url with `?payment_id=&status=`."),
            200: inline_serializer(
                name="RazorpayCallbackOutput",
                fields={
                    "payment_id": serializers.IntegerField(),
                    "status": serializers.ChoiceField(choices=["success", "pending", "failed"]),
                },
            ),
            400: _error("RazorpayCallbackInvalid", ["invalid_signature"], "The signature does not match."),
            404: _error("RazorpayCallbackNotFound", ["not_found"], "No payment has that order."),
            429: _error("RazorpayCallbackThrottled", ["throttled"], "Too many callbacks from this client."),
        },
    )
    def post(self, request: Request) -> HttpResponse:
        fields = {str(key)[:64]: str(value)[:4000] for key, value in request.data.items()}
        returned = returns.callback_from_razorpay(fields=fields)
        return _back_to_front_end(returned.payment, outcome=returned.outcome, redirect=_SeeOther)


def _back_to_front_end(payment: Payment, *, outcome: str, redirect: type[HttpResponseRedirect]) -> HttpResponse:
    """To the payment's redirect_url with `?payment_id=&status=`; the same two fields as JSON when it has none."""
    if not payment.redirect_url:
        return Response({"payment_id": payment.pk, "status": outcome})
    return redirect(with_query(payment.redirect_url, payment_id=str(payment.pk), status=outcome))


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class _WebhookApi(APIView):
    """Public and signed. Intake only: verify, store, deduplicate, queue, answer; the worker does the processing, so
    no gateway call and no processing error ever reaches the gateway's delivery. Not atomic per request on purpose:
    intake writes the row and its task in one statement of its own (no transaction round trips around it)."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []  # also makes DRF skip CSRF: the signature is the authentication
    # Per source (the client's address), in the shared cache: only deliveries that fail verification are counted,
    # and a source that sent THROTTLE_WEBHOOKS of them in the window gets 429 for everything until it ends. A
    # gateway's genuine deliveries are never slowed by a shared counter's row lock, and with the database cache
    # the intake statement itself tests the "used up" mark: no cache read of their own (receive_webhook).
    throttle_classes: list[Any] = []
    throttle_scope = "webhooks"
    gateway = ""
    max_body_bytes = "WEBHOOK_MAX_BODY_BYTES"  # refused (413) on Content-Length before the body is read

    def post(self, request: Request) -> HttpResponse:
        # The raw bytes, untouched: the signature is over exactly these (request.data is never read here).
        body = request._request.body
        quota = quota_for(scope=self.throttle_scope, ident=client_ident(request))
        if b"\x00" in body:  # never valid JSON, and PostgreSQL cannot store it: refused before the inbox
            if quota is not None and (wait := quota.wait()):
                return throttled_response(wait)
            return Response(error_body("malformed_request", "The body contains a NUL byte."), status=400)
        result = receive_webhook(gateway=self.gateway, headers=dict(request.headers), body=body, quota=quota)
        if result.retry_after is not None:
            return throttled_response(result.retry_after)
        if result.outcome == "invalid_signature":
            return Response(
                error_body("invalid_signature", "The webhook signature does not match."),
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response({"status": result.outcome})


_WEBHOOK_RESPONSES = {
    200: inline_serializer(
        name="WebhookOutput",
        fields={
            "status": serializers.ChoiceField(
                choices=["queued", "processed", "duplicate", "ignored"],
                help_text="queued: verified, stored and handed to the worker",
            )
        },
    ),
    400: _error(
        "WebhookInvalidSignature",
        ["invalid_signature", "malformed_request"],
        "Signature missing or wrong, or a NUL byte in the body; nothing changed.",
    ),
    429: THROTTLED,
}


class RazorpayWebhookApi(_WebhookApi):
    gateway = "razorpay"

    @extend_schema(
        tags=["webhooks"],
        operation_id="payments_webhook_razorpay",
        summary="Razorpay webhooks (X-Razorpay-Signature over the raw body)",
        request={"application/json": OpenApiTypes.OBJECT},
        parameters=[RETRY_AFTER],
        responses=_WEBHOOK_RESPONSES,
    )
    def post(self, request: Request) -> HttpResponse:
        return super().post(request)


class PhonePeWebhookApi(_WebhookApi):
    gateway = "phonepe"

    @extend_schema(
        tags=["webhooks"],
        operation_id="payments_webhook_phonepe",
        summary="PhonePe callbacks (Authorization: sha256 of username:password)",
        request={"application/json": OpenApiTypes.OBJECT},
        parameters=[RETRY_AFTER],
        responses=_WEBHOOK_RESPONSES,
    )
    def post(self, request: Request) -> HttpResponse:
        return super().post(request)
