"""The Payment shape of API.md, shared by every payments endpoint that answers with a payment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from payfirst.fulfilment.selectors import FulfilmentRef
from payfirst.payments.states import PaymentStatus


@extend_schema_serializer(component_name="PaymentFulfilment")
class FulfilmentOutput(serializers.Serializer):
    type = serializers.ChoiceField(choices=["order", "booking", "subscription"])
    id = serializers.IntegerField()
    reference = serializers.CharField(help_text='order number, book_id ("BK-1A2B3C4D") or plan code')


@extend_schema_serializer(component_name="PaymentCheckout")
class CheckoutOutput(serializers.Serializer):
    """How the front end pays. Razorpay: the Checkout options; PhonePe: where to send the browser. Never a secret."""

    key_id = serializers.CharField(required=False, help_text="Razorpay")
    order_id = serializers.CharField(required=False, help_text="Razorpay")
    amount = serializers.IntegerField(required=False, help_text="Razorpay; paise")
    currency = serializers.CharField(required=False, help_text="Razorpay")
    name = serializers.CharField(required=False, help_text="Razorpay")
    description = serializers.CharField(required=False, help_text="Razorpay")
    prefill = serializers.DictField(
        child=serializers.CharField(), required=False, help_text="Razorpay: name, email, contact"
    )
    sandbox_checkout_url = serializers.URLField(required=False, help_text="Razorpay, sandbox mode only")
    redirect_url = serializers.URLField(required=False, help_text="PhonePe: the hosted payment page")


@extend_schema_serializer(component_name="Payment")
class PaymentOutput(serializers.Serializer):
    """`context["fulfilments"]`: {payment id: [FulfilmentRef]} fetched once for the page (see selectors)."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=PaymentStatus.choices)
    amount = serializers.IntegerField(help_text="paise")
    currency = serializers.CharField()
    gateway = serializers.CharField()
    gateway_order_id = serializers.CharField(
        help_text="Razorpay order_...; PhonePe: the merchantOrderId payfirst sent. Empty until the order is opened."
    )
    cart_id = serializers.CharField(source="cart.cart_id")
    items_count = serializers.IntegerField()
    razorpay_order_id = serializers.SerializerMethodField(help_text="seed 000: Razorpay's order id, else null")
    cart_items_count = serializers.IntegerField(source="items_count", help_text="seed 000: the same as items_count")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    captured_at = serializers.DateTimeField(allow_null=True)
    refunded_amount = serializers.IntegerField(help_text="paise")
    fulfilments = serializers.SerializerMethodField()
    checkout = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_razorpay_order_id(self, payment: Any) -> str | None:
        return (payment.gateway_order_id or None) if payment.gateway == "razorpay" else None

    @extend_schema_field(FulfilmentOutput(many=True))
    def get_fulfilments(self, payment: Any) -> list[dict[str, Any]]:
        refs = self.context.get("fulfilments", {}).get(payment.pk, [])
        return [{"type": ref.type, "id": ref.id, "reference": ref.reference} for ref in refs]

    @extend_schema_field(CheckoutOutput())
    def get_checkout(self, payment: Any) -> dict[str, Any]:
        return dict(payment.checkout or {})


_MOMENT = serializers.DateTimeField()


def payment_body(payment: Any, fulfilments: Sequence[FulfilmentRef]) -> dict[str, Any]:
    """What PaymentOutput renders for `payment` made into `fulfilments`, key for key
    (test_payment_body_is_what_the_serializer_renders), built directly for the payment endpoints' answers; the
    serializer stays the schema's description of it. Moments render through DRF's own DateTimeField."""
    return {
        "id": payment.pk,
        "status": payment.status,
        "amount": payment.amount,
        "currency": payment.currency,
        "gateway": payment.gateway,
        "gateway_order_id": payment.gateway_order_id,
        "cart_id": payment.cart.cart_id,
        "items_count": payment.items_count,
        "razorpay_order_id": (payment.gateway_order_id or None) if payment.gateway == "razorpay" else None,
        "cart_items_count": payment.items_count,
        "created_at": _MOMENT.to_representation(payment.created_at),
        "expires_at": _MOMENT.to_representation(payment.expires_at),
        "captured_at": None if payment.captured_at is None else _MOMENT.to_representation(payment.captured_at),
        "refunded_amount": payment.refunded_amount,
        "fulfilments": [{"type": ref.type, "id": ref.id, "reference": ref.reference} for ref in fulfilments],
        "checkout": dict(payment.checkout or {}),
    }


@extend_schema_serializer(component_name="PaginatedPaymentList")
class PaymentPageOutput(serializers.Serializer):
    """The list endpoints' page: {count, next, previous, results}."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = PaymentOutput(many=True)
