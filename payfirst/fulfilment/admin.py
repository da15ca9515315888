"""Staff views of orders, bookings and subscriptions. Read-mostly: only the status can change here.

Fulfilments are created only from a captured payment (DESIGN.md invariant 1), so the admin can neither add
nor delete them, and the money, the links to the payment and the address snapshots are read-only.
"""

from __future__ import annotations

from typing import ClassVar

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from payfirst.core.admin_tools import RupeesAdmin
from payfirst.fulfilment.models import Booking, Order, OrderItem, Subscription

CANCELLED = "CANCELLED"  # the cancelled status of orders, bookings and subscriptions alike


class _StatusForm(forms.ModelForm):
    """Staff move a fulfilment forward here (shipped, delivered, completed), but never cancel it by hand: cancelling
    goes through the payment, which refunds, gives stock and places back and tells the customer, after a
    confirmation page."""

    def clean_status(self) -> str:
        status = self.cleaned_data["status"]
        if status == CANCELLED and self.instance.status != CANCELLED:
            raise forms.ValidationError(
                "Cancel through the payment: on Payments, tick it and choose “Refund in full and cancel…” (the "
                "money is refunded, stock and places given back, and the customer told)."
            )
        return status


class _ReadMostlyAdmin(RupeesAdmin, admin.ModelAdmin):
    form = _StatusForm

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class OrderItemInline(RupeesAdmin, admin.TabularInline):
    model = OrderItem
    paise_fields = ("unit_price", "line_total", "discount", "total")
    extra = 0
    can_delete = False
    fields: ClassVar[tuple[str, ...]] = (
        "variant",
        "name",
        "sku",
        "quantity",
        "unit_price",
        "line_total",
        "discount",
        "total",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderItem]:
        return super().get_queryset(request).select_related("variant__product")


@admin.register(Order)
class OrderAdmin(_ReadMostlyAdmin):
    paise_fields = ("subtotal", "discount", "total")
    list_display = ["order_number", "user", "status", "total", "payment", "created_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["order_number", "user__email", "payment__reference"]
    list_select_related = ["user", "payment"]
    date_hierarchy = "created_at"
    inlines = [OrderItemInline]
    fields: ClassVar[tuple[str, ...]] = (
        "order_number",
        "user",
        "payment",
        "status",
        "subtotal",
        "discount",
        "total",
        "shipping_address",
        "billing_address",
        "created_at",
        "updated_at",
    )
    readonly_fields = [name for name in fields if name != "status"]


@admin.register(Booking)
class BookingAdmin(_ReadMostlyAdmin):
    paise_fields = ("discount", "total")
    list_display = ["book_id", "user", "service", "package", "selected_date", "selected_time", "status", "total"]
    list_filter = ["status", "selected_date", "service"]
    search_fields = ["book_id", "user__email", "payment__reference", "devotee_name"]
    list_select_related = ["user", "service", "package__service"]
    date_hierarchy = "selected_date"
    fields: ClassVar[tuple[str, ...]] = (
        "book_id",
        "user",
        "payment",
        "payment_line",
        "status",
        "service",
        "package",
        "slot",
        "selected_date",
        "selected_time",
        "devotee_name",
        "note",
        "discount",
        "total",
        "created_at",
        "updated_at",
    )
    readonly_fields = [name for name in fields if name != "status"]


@admin.register(Subscription)
class SubscriptionAdmin(_ReadMostlyAdmin):
    paise_fields = ("discount", "total")
    list_display = ["plan_code", "user", "status", "starts_at", "ends_at", "total"]
    list_filter = ["status", "plan"]
    search_fields = ["plan_code", "user__email", "payment__reference"]
    list_select_related = ["user"]
    fields: ClassVar[tuple[str, ...]] = (
        "user",
        "payment",
        "payment_line",
        "plan",
        "plan_code",
        "status",
        "starts_at",
        "ends_at",
        "discount",
        "total",
        "created_at",
        "updated_at",
    )
    readonly_fields = [name for name in fields if name != "status"]
