"""Admin for payments (read-only money, lines, the event timeline, refunds), the webhook inbox and idempotency keys.

Nothing here edits money or state by hand: the actions go through the same services as the API, and every change
they make lands in the payment's timeline with source "admin".
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from payfirst.core.errors import AppError
from payfirst.fulfilment.selectors import fulfilment_refs
from payfirst.gateways.base import GatewayError
from payfirst.payments import services
from payfirst.payments.models import (
    IdempotencyRecord,
    Payment,
    PaymentAttempt,
    PaymentEvent,
    PaymentLine,
    Refund,
    RefundStatus,
    WebhookEvent,
)
from payfirst.payments.reconcile import reconcile_payment, reconcile_refund
from payfirst.payments.refunds import refund_payment
from payfirst.payments.states import EventSource
from payfirst.payments.webhooks import redrive_webhook


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PaymentLineInline(_ReadOnlyInline):
    model = PaymentLine
    fields = (
        "kind",
        "name",
        "sku",
        "selected_date",
        "selected_time",
        "quantity",
        "unit_price",
        "line_total",
        "discount",
        "total",
    )
    readonly_fields = fields


class PaymentEventInline(_ReadOnlyInline):
    """The payment's timeline: every state change, its source, who caused it and the gateway's evidence."""

    model = PaymentEvent
    verbose_name_plural = "timeline"
    fields = ("created_at", "from_status", "to_status", "source", "actor", "detail", "payload")
    readonly_fields = fields
    ordering = ("created_at", "id")


class PaymentAttemptInline(_ReadOnlyInline):
    """Every attempt on the payment's gateway order and what payfirst made of it (captured, left to lapse, ...)."""

    model = PaymentAttempt
    verbose_name_plural = "gateway attempts"
    fields = ("gateway_payment_id", "gateway_status", "amount", "currency", "decision", "error", "updated_at")
    readonly_fields = fields


class RefundInline(_ReadOnlyInline):
    model = Refund
    fields = (
        "reference",
        "amount",
        "status",
        "source",
        "reason",
        "is_automatic",
        "gateway_payment_id",
        "gateway_refund_id",
        "error",
        "created_at",
        "processed_at",
    )
    readonly_fields = fields


class WebhookInline(_ReadOnlyInline):
    model = WebhookEvent
    fields = ("received_at", "event_name", "event_id", "outcome", "error", "processed_at")
    readonly_fields = fields
    verbose_name_plural = "webhooks received"


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ("reference", "user", "status", "gateway", "amount", "refunded_amount", "created_at", "captured_at")
    list_filter = ("status", "gateway", "reservation")
    search_fields = ("reference", "gateway_order_id", "gateway_payment_id", "user__email", "cart__cart_id")
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    inlines = (PaymentLineInline, PaymentEventInline, PaymentAttemptInline, RefundInline, WebhookInline)
    actions = ("sync_with_gateway", "cancel_pending", "refund_rest", "refund_rest_and_cancel", "reconcile_now")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "reference",
                    "user",
                    "cart",
                    "status",
                    "reservation",
                    "created_at",
                    "expires_at",
                    "captured_at",
                    "fulfilments",
                )
            },
        ),
        (
            "Money (paise)",
            {
                "fields": (
                    "amount",
                    "currency",
                    "subtotal",
                    "discount",
                    "promo",
                    "refunded_amount",
                    "gateway_amount",
                    "gateway_currency",
                )
            },
        ),
        ("Gateway", {"fields": ("gateway", "gateway_order_id", "gateway_payment_id", "checkout", "redirect_url")}),
        ("Addresses", {"fields": ("shipping_address", "billing_address")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Every field: state and money change only through the services (and so through the timeline).
        return [*(field.name for field in Payment._meta.fields), "fulfilments"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="fulfilments")
    def fulfilments(self, obj: Payment) -> str:
        """The timeline's last part: what the capture produced (orders, bookings, subscriptions)."""
        refs = fulfilment_refs(payment_ids=[obj.pk])[obj.pk] if obj.pk else []
        return ", ".join(f"{ref.type} {ref.reference} (#{ref.id})" for ref in refs) or "—"

    @admin.action(description="Refund the selected payments in full (everything not yet refunded)")
    def refund_rest(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        self._refund_rest(request, queryset, cancel_fulfilment=False)

    @admin.action(description="Refund in full and cancel what was fulfilled (stock and slot places given back)")
    def refund_rest_and_cancel(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        self._refund_rest(request, queryset, cancel_fulfilment=True)

    def _refund_rest(self, request: HttpRequest, queryset: QuerySet[Payment], *, cancel_fulfilment: bool) -> None:
        for payment in queryset.order_by("pk"):
            try:
                refund = refund_payment(
                    payment_id=payment.pk,
                    amount=None,
                    reason=f"Refunded in full from the admin by {request.user}.",
                    actor_id=request.user.pk,
                    source=EventSource.ADMIN,
                    cancel_fulfilment=cancel_fulfilment,
                )
            except AppError as error:
                self.message_user(request, f"{payment.reference}: {error.message}", messages.WARNING)
                continue
            level = messages.SUCCESS if refund.status == RefundStatus.PROCESSED else messages.INFO
            note = f" (the gateway did not answer; sent again automatically: {refund.error})" if refund.error else ""
            self.message_user(
                request,
                f"{payment.reference}: refund {refund.reference} of {refund.amount} paise is "
                f"{refund.status.lower()}{note}.",
                level,
            )

    @admin.action(description="Reconcile the selected payments now (gateway status, pending refunds, expiry)")
    def reconcile_now(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        for payment in queryset.order_by("pk"):
            try:
                results = reconcile_payment(payment_id=payment.pk, actor_id=request.user.pk)
                for refund_id in Refund.objects.filter(payment=payment, status=RefundStatus.PENDING).values_list(
                    "pk", flat=True
                ):
                    results += reconcile_refund(refund_id=refund_id)
            except GatewayError as error:
                self.message_user(
                    request, f"{payment.reference}: the gateway did not answer ({error}).", messages.ERROR
                )
                continue
            self.message_user(request, f"{payment.reference}: {', '.join(results)}.")

    @admin.action(description="Ask the gateway about the selected payments and apply the answer")
    def sync_with_gateway(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        for payment in queryset.order_by("pk"):
            try:
                outcome = services.sync_payment(payment=payment, source=EventSource.ADMIN, actor_id=request.user.pk)
            except GatewayError as error:
                self.message_user(
                    request, f"{payment.reference}: the gateway did not answer ({error}).", messages.ERROR
                )
                continue
            self.message_user(request, f"{payment.reference}: {outcome}.")

    @admin.action(description="Cancel the selected pending payments (releases their reservations)")
    def cancel_pending(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        for payment in queryset.order_by("pk"):
            try:
                services.cancel_payment(payment_id=payment.pk, actor=request.user, source=EventSource.ADMIN)
            except AppError as error:
                self.message_user(request, f"{payment.reference}: {error.message}", messages.WARNING)
                continue
            self.message_user(request, f"{payment.reference}: cancelled.")


@admin.register(PaymentEvent)
class PaymentEventAdmin(admin.ModelAdmin):
    """The audit trail across payments. Append-only: nothing can be added, changed or deleted here."""

    list_display = ("created_at", "payment", "from_status", "to_status", "source", "actor")
    list_filter = ("source", "to_status")
    search_fields = ("payment__reference",)
    list_select_related = ("payment", "actor")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in PaymentEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = ("reference", "payment", "amount", "status", "source", "is_automatic", "created_at", "processed_at")
    list_filter = ("status", "source", "is_automatic")
    search_fields = ("reference", "payment__reference", "gateway_refund_id")
    list_select_related = ("payment",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in Refund._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    """The webhook inbox: every delivery as received, whether it verified, and what came of it."""

    list_display = ("received_at", "gateway", "event_name", "event_id", "outcome", "is_verified", "payment")
    list_filter = ("gateway", "outcome", "is_verified")
    search_fields = ("event_id", "gateway_order_id", "payment__reference")
    list_select_related = ("payment",)
    actions = ("redrive",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in WebhookEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Process the selected verified deliveries again")
    def redrive(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        for record in queryset.filter(is_verified=True).order_by("pk"):
            try:
                outcome = redrive_webhook(webhook_event_id=record.pk)
            except GatewayError as error:
                self.message_user(
                    request, f"Webhook {record.pk}: the gateway did not answer ({error}).", messages.ERROR
                )
                continue
            self.message_user(request, f"Webhook {record.pk}: {outcome}.")


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "key", "state", "status_code")
    list_filter = ("state",)
    search_fields = ("key", "user__email")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in IdempotencyRecord._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
