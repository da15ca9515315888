"""Admin for payments (read-only money, lines, the event timeline, refunds), the webhook inbox and idempotency keys.

Nothing here edits money or state by hand: the actions go through the same services as the API, and every change
they make lands in the payment's timeline with source "admin".
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet, Sum
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html

from payfirst.accounts.selectors import signed_in_user
from payfirst.core.admin_tools import ReadOnlyAdmin, RupeesAdmin
from payfirst.core.errors import AppError
from payfirst.core.money import rupees
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
from payfirst.payments.refunds import HOLDING, refund_payment, refundable_base
from payfirst.payments.states import EventSource
from payfirst.payments.webhooks import redrive_webhook


class _ReadOnlyInline(RupeesAdmin, admin.TabularInline):
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
    paise_fields = ("unit_price", "line_total", "discount", "total")
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
    fields = ("created_at", "from_status", "to_status", "source", "actor", "detail", "evidence")
    readonly_fields = fields
    ordering = ("created_at", "id")
    classes = ("payfirst-timeline",)

    @admin.display(description="evidence")
    def evidence(self, event: PaymentEvent) -> str:
        return folded_json(event.payload, summary="payload")


class PaymentAttemptInline(_ReadOnlyInline):
    """Every attempt on the payment's gateway order and what payfirst made of it (captured, left to lapse, ...)."""

    model = PaymentAttempt
    verbose_name_plural = "gateway attempts"
    fields = ("gateway_payment_id", "gateway_status", "amount", "currency", "decision", "error", "updated_at")
    readonly_fields = fields


class RefundInline(_ReadOnlyInline):
    model = Refund
    paise_fields = ("amount",)
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


def folded_json(value: Any, *, summary: str) -> str:
    """A JSON value folded in a <details> element, so a long gateway payload does not stretch the page."""
    if not value:
        return "—"
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    return format_html(
        '<details class="payfirst-json"><summary>{} ({} lines)</summary><pre>{}</pre></details>',
        summary,
        text.count("\n") + 1,
        text,
    )


@admin.register(Payment)
class PaymentAdmin(RupeesAdmin, admin.ModelAdmin):
    paise_fields = ("amount", "subtotal", "discount", "refunded_amount", "gateway_amount")
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
            "Money",
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
        (
            "Gateway",
            {"fields": ("gateway", "gateway_order_id", "gateway_payment_id", "checkout_folded", "redirect_url")},
        ),
        ("Addresses", {"fields": ("shipping_address_folded", "billing_address_folded")}),
    )

    class Media:
        css = {"all": ("payfirst/admin.css",)}

    # Every field: state and money change only through the services (and so through the timeline).
    readonly_fields = [
        *(field.name for field in Payment._meta.fields),
        "fulfilments",
        "checkout_folded",
        "shipping_address_folded",
        "billing_address_folded",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Read-only pages (no Save buttons); the list's actions still run, each through the services.
        return obj is None and super().has_change_permission(request, obj)

    @admin.display(description="checkout")
    def checkout_folded(self, obj: Payment) -> str:
        return folded_json(obj.checkout, summary="checkout block")

    @admin.display(description="shipping address")
    def shipping_address_folded(self, obj: Payment) -> str:
        return folded_json(obj.shipping_address, summary="address")

    @admin.display(description="billing address")
    def billing_address_folded(self, obj: Payment) -> str:
        return folded_json(obj.billing_address, summary="address")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="fulfilments")
    def fulfilments(self, obj: Payment) -> str:
        """The timeline's last part: what the capture produced (orders, bookings, subscriptions)."""
        refs = fulfilment_refs(payment_ids=[obj.pk])[obj.pk] if obj.pk else []
        return ", ".join(f"{ref.type} {ref.reference} (#{ref.id})" for ref in refs) or "—"

    @admin.action(description="Refund the selected payments in full (everything not yet refunded)…")
    def refund_rest(self, request: HttpRequest, queryset: QuerySet[Payment]) -> TemplateResponse | None:
        return self._refund_rest(request, queryset, cancel_fulfilment=False)

    @admin.action(description="Refund in full and cancel what was fulfilled (stock and slot places given back)…")
    def refund_rest_and_cancel(self, request: HttpRequest, queryset: QuerySet[Payment]) -> TemplateResponse | None:
        return self._refund_rest(request, queryset, cancel_fulfilment=True)

    def _confirmation(
        self, request: HttpRequest, queryset: QuerySet[Payment], *, title: str, warning: str, submit: str, reason: str
    ) -> TemplateResponse:
        """The page between choosing an action that moves money or cancels and doing it, as Django's delete has."""
        payments = list(queryset.select_related("user").order_by("pk"))
        held = dict(
            Refund.objects.filter(payment__in=payments, status__in=HOLDING)
            .values_list("payment_id")
            .annotate(total=Sum("amount"))
        )
        rows = [
            {
                "payment": payment,
                "amount": rupees(payment.amount),
                "refunded": rupees(held.get(payment.pk, 0)),
                "rest": rupees(max(refundable_base(payment=payment) - held.get(payment.pk, 0), 0)),
            }
            for payment in payments
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": None,
            "warning": warning,
            "submit": submit,
            "reason": reason,
            "rows": rows,
            "action": request.POST.get("action", ""),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/payments/payment/confirm_action.html", context)

    def _refund_rest(
        self, request: HttpRequest, queryset: QuerySet[Payment], *, cancel_fulfilment: bool
    ) -> TemplateResponse | None:
        default_reason = f"Refunded in full from the admin by {request.user}."
        reason = request.POST.get("reason", "").strip()
        if request.POST.get("confirmed") != "yes" or not reason:
            cancelled = " and cancel their orders, bookings and subscriptions" if cancel_fulfilment else ""
            return self._confirmation(
                request,
                queryset,
                title="Refund in full?" if not cancel_fulfilment else "Refund in full and cancel?",
                warning=f"This sends a refund of everything not yet refunded for each payment below{cancelled}. "
                "Money sent back cannot be taken back.",
                submit="Yes, refund" if not cancel_fulfilment else "Yes, refund and cancel",
                reason=reason or default_reason,
            )
        for payment in queryset.order_by("pk"):
            try:
                refund = refund_payment(
                    payment_id=payment.pk,
                    amount=None,
                    reason=reason[:500],
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
                f"{payment.reference}: refund {refund.reference} of {rupees(refund.amount)} is "
                f"{refund.status.lower()}{note}.",
                level,
            )
        return None

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

    @admin.action(description="Cancel the selected pending payments (releases their reservations)…")
    def cancel_pending(self, request: HttpRequest, queryset: QuerySet[Payment]) -> TemplateResponse | None:
        if request.POST.get("confirmed") != "yes":
            return self._confirmation(
                request,
                queryset,
                title="Cancel these payments?",
                warning="Each pending payment below is cancelled and its stock and slot places released; a customer "
                "still paying it will be refunded automatically if the money arrives later. Payments that are not "
                "pending are left as they are.",
                submit="Yes, cancel",
                reason="",
            )
        for payment in queryset.order_by("pk"):
            try:
                services.cancel_payment(payment_id=payment.pk, actor=signed_in_user(request), source=EventSource.ADMIN)
            except AppError as error:
                self.message_user(request, f"{payment.reference}: {error.message}", messages.WARNING)
                continue
            self.message_user(request, f"{payment.reference}: cancelled.")
        return None


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
class RefundAdmin(RupeesAdmin, ReadOnlyAdmin):
    paise_fields = ("amount",)
    list_display = ("reference", "payment", "amount", "status", "source", "is_automatic", "created_at", "processed_at")
    list_filter = ("status", "source", "is_automatic")
    search_fields = ("reference", "payment__reference", "gateway_refund_id")
    list_select_related = ("payment",)

    readonly_fields = [field.name for field in Refund._meta.fields]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    """The webhook inbox: every delivery as received, whether it verified, and what came of it. Outcome "failed" is
    an event the worker gave up on after every retry (an alarm was raised): look at its error, then re-drive it."""

    list_display = (
        "received_at",
        "gateway",
        "event_name",
        "event_id",
        "outcome",
        "attempts",
        "next_attempt_at",
        "is_verified",
        "payment",
    )
    list_filter = ("outcome", "gateway", "is_verified", "kind")
    search_fields = ("event_id", "gateway_order_id", "payment__reference")
    list_select_related = ("payment",)
    actions = ("redrive",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in WebhookEvent._meta.fields]

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
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "key", "state", "status_code")
    list_filter = ("state",)
    search_fields = ("key", "user__email")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in IdempotencyRecord._meta.fields]
