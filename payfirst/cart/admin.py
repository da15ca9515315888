"""Admin for carts (read-mostly: customers change carts through the API) and for promo codes."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from payfirst.cart.models import Cart, CartItem, CartStatus, PromoCode, PromoRedemption
from payfirst.core.admin_tools import ReadOnlyAdmin, RupeesAdmin


class CartItemInline(admin.TabularInline):
    model = CartItem
    extra = 0
    can_delete = False
    fields: ClassVar[tuple[str, ...]] = ("kind", "variant", "package", "slot", "plan", "quantity", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    list_display = ["cart_id", "user", "status", "promo", "created_at", "updated_at", "converted_at"]
    list_filter = ["status"]
    search_fields = ["cart_id", "user__email"]
    list_select_related = ["user", "promo"]
    readonly_fields = [
        "cart_id",
        "user",
        "status",
        "promo",
        "promo_notice",
        "notices",
        "created_at",
        "updated_at",
        "converted_at",
    ]
    inlines = [CartItemInline]
    actions = ["mark_abandoned"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A cart's page is for reading (no Save buttons); the list's action still runs.
        return obj is None and super().has_change_permission(request, obj)

    @admin.action(description="Mark selected active carts abandoned")
    def mark_abandoned(self, request: HttpRequest, queryset: QuerySet[Cart]) -> None:
        # Only ACTIVE carts move: a CONVERTED cart belongs to a captured payment and stays as it is.
        count = queryset.filter(status=CartStatus.ACTIVE).update(status=CartStatus.ABANDONED, updated_at=timezone.now())
        self.message_user(request, f"{count} cart(s) marked abandoned.", messages.SUCCESS)


@admin.register(PromoCode)
class PromoCodeAdmin(RupeesAdmin, admin.ModelAdmin):
    paise_fields = ("flat_amount", "max_discount", "min_subtotal")
    list_display = [
        "code",
        "kind",
        "percent_bp",
        "flat_amount",
        "max_discount",
        "min_subtotal",
        "applies_to",
        "valid_from",
        "valid_until",
        "uses_count",
        "held_count",
        "max_uses",
        "max_uses_per_user",
        "is_active",
    ]
    list_filter = ["kind", "applies_to", "is_active"]
    search_fields = ["code"]
    # Counted by checkout (held) and capture (used); editing them by hand would falsify the limit.
    readonly_fields = ["uses_count", "held_count", "created_at", "updated_at"]


@admin.register(PromoRedemption)
class PromoRedemptionAdmin(RupeesAdmin, ReadOnlyAdmin):
    paise_fields = ("discount",)
    list_display = ["promo", "user", "payment_reference", "discount", "state", "created_at"]
    list_filter = ["state"]
    search_fields = ["promo__code", "user__email", "payment_reference"]
    list_select_related = ["promo", "user"]
    readonly_fields = ["promo", "user", "payment_reference", "discount", "state", "created_at"]
