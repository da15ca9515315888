"""A user's cart: one ACTIVE cart per user (a partial unique constraint decides), lines of three kinds, promo codes.

Prices are never stored on a line: they are read from the catalog whenever the cart is priced.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from payfirst.catalog.models import LineKind, Plan, ServicePackage, Slot, Variant
from payfirst.core.models import TimestampedModel

__all__ = ["Cart", "CartItem", "CartStatus", "LineKind", "PromoCode", "PromoKind", "PromoRedemption", "new_cart_id"]


def new_cart_id() -> str:
    return f"CART_{secrets.token_hex(10).upper()}"


class CartStatus(models.TextChoices):
    ACTIVE = "ACTIVE"
    CONVERTED = "CONVERTED"
    ABANDONED = "ABANDONED"


class PromoKind(models.TextChoices):
    PERCENT = "PERCENT", "Percentage"
    FLAT = "FLAT", "Flat amount"


class PromoCode(TimestampedModel):
    """A discount. Percentages are basis points (1000 = 10%) and round half up to the paisa."""

    code = models.CharField(max_length=32, unique=True, help_text="stored upper-case; matched case-insensitively")
    kind = models.CharField(max_length=8, choices=PromoKind.choices)
    percent_bp = models.PositiveIntegerField(default=0, help_text="PERCENT: basis points, 1000 = 10%")
    flat_amount = models.PositiveBigIntegerField(default=0, help_text="FLAT: paise")
    max_discount = models.PositiveBigIntegerField(null=True, blank=True, help_text="PERCENT cap, paise")
    min_subtotal = models.PositiveBigIntegerField(default=0, help_text="paise")
    applies_to = models.CharField(
        max_length=8, choices=LineKind.choices, blank=True, default="", help_text="blank: every kind of line"
    )
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    max_uses = models.PositiveIntegerField(null=True, blank=True, help_text="total uses; blank: unlimited")
    max_uses_per_user = models.PositiveIntegerField(null=True, blank=True)
    uses_count = models.PositiveIntegerField(default=0, help_text="captured payments that used it")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="PERCENT", percent_bp__gt=0, percent_bp__lte=10000) | Q(kind="FLAT", flat_amount__gt=0)
                ),
                name="promo_value_fits_kind",
            ),
        ]

    def save(self, *args, **kwargs) -> None:
        self.code = self.code.strip().upper()
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return self.code


class PromoRedemption(models.Model):  # noqa: DJ008 - its admin lists it by its fields; the default name stays
    """One use of a promo code, counted when the payment that used it is captured (once per payment)."""

    promo = models.ForeignKey(PromoCode, on_delete=models.PROTECT, related_name="redemptions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="promo_redemptions")
    payment_reference = models.CharField(max_length=64, unique=True)
    discount = models.PositiveBigIntegerField(help_text="paise")
    created_at = models.DateTimeField(auto_now_add=True)


class Cart(TimestampedModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="carts")
    cart_id = models.CharField(max_length=40, unique=True, default=new_cart_id)
    status = models.CharField(max_length=12, choices=CartStatus.choices, default=CartStatus.ACTIVE)
    promo = models.ForeignKey(PromoCode, on_delete=models.SET_NULL, null=True, blank=True, related_name="carts")
    promo_notice = models.CharField(max_length=255, blank=True, help_text="why a promo code dropped off, if it did")
    notices = models.JSONField(
        default=list, blank=True, help_text="why lines dropped off the cart since the customer last changed it"
    )
    converted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user"], condition=Q(status="ACTIVE"), name="one_active_cart_per_user")
        ]

    def __str__(self) -> str:
        return self.cart_id


class CartItem(TimestampedModel):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=8, choices=LineKind.choices)
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, null=True, blank=True)
    package = models.ForeignKey(ServicePackage, on_delete=models.PROTECT, null=True, blank=True)
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, null=True, blank=True)
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, null=True, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    # Service lines only: who the puja is for, and what the priest should know (gotra, occasion); carried into the
    # payment line and from there into the booking.
    devotee_name = models.CharField(max_length=120, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(
                        kind="product",
                        variant__isnull=False,
                        package__isnull=True,
                        slot__isnull=True,
                        plan__isnull=True,
                        quantity__gte=1,
                        quantity__lte=99,
                    )
                    | Q(
                        kind="service",
                        variant__isnull=True,
                        package__isnull=False,
                        slot__isnull=False,
                        plan__isnull=True,
                        quantity=1,
                    )
                    | Q(
                        kind="plan",
                        variant__isnull=True,
                        package__isnull=True,
                        slot__isnull=True,
                        plan__isnull=False,
                        quantity=1,
                    )
                ),
                name="cart_item_kind_fields",
            ),
            models.UniqueConstraint(
                fields=["cart", "variant"], condition=Q(kind="product"), name="cart_one_line_per_variant"
            ),
            models.UniqueConstraint(fields=["cart", "plan"], condition=Q(kind="plan"), name="cart_one_line_per_plan"),
            models.UniqueConstraint(
                fields=["cart", "package", "slot"], condition=Q(kind="service"), name="cart_one_line_per_package_slot"
            ),
        ]
