"""Read-only admin views of the sandbox: its gateway state, the armed faults and the webhook outbox with every attempt,
so a developer can see what the sandbox did and sent. Nothing is edited here (faults go through /sandbox/faults/)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from payfirst.gateways.sandbox.models import (
    Fault,
    PhonePeOrder,
    PhonePeRefund,
    PhonePeTransaction,
    RazorpayOrder,
    RazorpayPayment,
    RazorpayRefund,
    WebhookAttempt,
    WebhookDelivery,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ["number", "started_at", "duration_ms", "status_code", "error"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "gateway",
        "event",
        "subject",
        "state",
        "attempts",
        "is_duplicate",
        "created_at",
        "delivered_at",
    ]
    list_filter = ["gateway", "state", "event"]
    search_fields = ["subject", "event_id"]
    inlines = [WebhookAttemptInline]


@admin.register(Fault)
class FaultAdmin(ReadOnlyAdmin):
    list_display = ["id", "gateway", "kind", "remaining", "delay_seconds", "armed_at"]
    list_filter = ["gateway", "kind"]


class RazorpayPaymentInline(ReadOnlyInline):
    model = RazorpayPayment
    fields = ["id", "status", "amount", "amount_refunded", "created_at"]


@admin.register(RazorpayOrder)
class RazorpayOrderAdmin(ReadOnlyAdmin):
    list_display = ["id", "status", "amount", "amount_paid", "attempts", "receipt", "created_at"]
    list_filter = ["status"]
    search_fields = ["id", "receipt"]
    inlines = [RazorpayPaymentInline]


@admin.register(RazorpayRefund)
class RazorpayRefundAdmin(ReadOnlyAdmin):
    list_display = ["id", "payment", "status", "amount", "receipt", "created_at", "processed_at"]
    list_filter = ["status"]
    search_fields = ["id", "payment__id", "receipt"]
    list_select_related = ["payment"]


class PhonePeTransactionInline(ReadOnlyInline):
    model = PhonePeTransaction
    fields = ["transaction_id", "state", "amount", "payment_mode", "created_at"]


@admin.register(PhonePeOrder)
class PhonePeOrderAdmin(ReadOnlyAdmin):
    list_display = ["merchant_order_id", "order_id", "state", "amount", "amount_refunded", "created_at", "expire_at"]
    list_filter = ["state"]
    search_fields = ["merchant_order_id", "order_id"]
    inlines = [PhonePeTransactionInline]


@admin.register(PhonePeRefund)
class PhonePeRefundAdmin(ReadOnlyAdmin):
    list_display = ["merchant_refund_id", "refund_id", "order", "state", "amount", "created_at"]
    list_filter = ["state"]
    search_fields = ["merchant_refund_id", "refund_id", "order__merchant_order_id"]
    list_select_related = ["order"]
