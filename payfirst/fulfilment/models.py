"""What a captured payment turns into: one Order (with items) for its products, a Booking per service line, a
Subscription per plan line. Every row points at the payment line it fulfils, and unique constraints on those
links make a second fulfilment of the same payment fail in the database instead of duplicating it.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from payfirst.core.models import TimestampedModel

# Crockford's base32 alphabet: no I, L, O or U, so a reference read out over the phone is not misheard.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_order_number() -> str:
    """`ORD-` and 12 random characters (60 bits): unguessable enough that a number reveals no sales volume."""
    return "ORD-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(12))


def new_book_id() -> str:
    """`BK-` and 8 random upper-case characters (40 bits), like `BK-1A2B3C4D`; the unique constraint is the backstop."""
    return "BK-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))


class OrderStatus(models.TextChoices):
    CONFIRMED = "CONFIRMED"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"


class BookingStatus(models.TextChoices):
    CONFIRMED = "CONFIRMED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"


class Order(TimestampedModel):
    """All of a payment's product lines. Money is the products' share of the payment, in paise."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    payment = models.ForeignKey("payments.Payment", on_delete=models.PROTECT, related_name="orders")
    order_number = models.CharField(max_length=20, unique=True, default=new_order_number)
    status = models.CharField(max_length=12, choices=OrderStatus.choices, default=OrderStatus.CONFIRMED)
    subtotal = models.PositiveBigIntegerField(help_text="paise: the items' line totals")
    discount = models.PositiveBigIntegerField(default=0, help_text="paise: the items' share of the cart discount")
    total = models.PositiveBigIntegerField(help_text="paise: subtotal less discount, the amount paid for this order")
    shipping_address = models.JSONField(null=True, blank=True, help_text="snapshot in the Address API shape")
    billing_address = models.JSONField(null=True, blank=True, help_text="snapshot in the Address API shape")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at", "-id"], name="order_user_recent")]
        constraints = [
            models.UniqueConstraint(fields=["payment"], name="order_one_per_payment"),
            models.CheckConstraint(
                condition=Q(subtotal__gte=0, discount__gte=0, total__gte=0), name="order_money_not_negative"
            ),
            models.CheckConstraint(condition=Q(total=F("subtotal") - F("discount")), name="order_total_adds_up"),
        ]

    def __str__(self) -> str:
        return self.order_number


class OrderItem(models.Model):
    """One product line of the payment, copied as it was sold (name, SKU and price at the time)."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="items")
    payment_line = models.OneToOneField("payments.PaymentLine", on_delete=models.PROTECT, related_name="order_item")
    variant = models.ForeignKey("catalog.Variant", on_delete=models.PROTECT, related_name="order_items")
    name = models.CharField(max_length=255)
    sku = models.CharField(max_length=64, blank=True)
    quantity = models.PositiveIntegerField()
    unit_price = models.PositiveBigIntegerField(help_text="paise")
    line_total = models.PositiveBigIntegerField(help_text="paise: unit_price x quantity")
    discount = models.PositiveBigIntegerField(default=0, help_text="paise: this line's share of the cart discount")
    total = models.PositiveBigIntegerField(help_text="paise: line_total less discount")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_item_quantity_positive"),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0, line_total__gte=0, discount__gte=0, total__gte=0),
                name="order_item_money_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(line_total=F("unit_price") * F("quantity")), name="order_item_line_total_adds_up"
            ),
            models.CheckConstraint(condition=Q(total=F("line_total") - F("discount")), name="order_item_total_adds_up"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.name}"


class Booking(TimestampedModel):
    """One service line: a package on a dated slot."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bookings")
    payment = models.ForeignKey("payments.Payment", on_delete=models.PROTECT, related_name="bookings")
    payment_line = models.OneToOneField("payments.PaymentLine", on_delete=models.PROTECT, related_name="booking")
    book_id = models.CharField(max_length=16, unique=True, default=new_book_id)
    status = models.CharField(max_length=12, choices=BookingStatus.choices, default=BookingStatus.CONFIRMED)
    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="bookings")
    package = models.ForeignKey("catalog.ServicePackage", on_delete=models.PROTECT, related_name="bookings")
    slot = models.ForeignKey("catalog.Slot", on_delete=models.PROTECT, related_name="bookings")
    selected_date = models.DateField()
    selected_time = models.TimeField()
    discount = models.PositiveBigIntegerField(default=0, help_text="paise: this line's share of the cart discount")
    total = models.PositiveBigIntegerField(help_text="paise: the package price less discount, the amount paid")
    devotee_name = models.CharField(max_length=120, blank=True, help_text="who the service is for")
    note = models.CharField(max_length=500, blank=True, help_text="the customer's note: gotra, occasion")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="booking_user_recent"),
            models.Index(fields=["selected_date", "selected_time"], name="booking_when"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(discount__gte=0, total__gte=0), name="booking_money_not_negative"),
        ]

    def __str__(self) -> str:
        return self.book_id


class Subscription(TimestampedModel):
    """One plan line. `total` is what was paid for it, so a payment's fulfilments always add up to its amount."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="subscriptions")
    payment = models.ForeignKey("payments.Payment", on_delete=models.PROTECT, related_name="subscriptions")
    payment_line = models.OneToOneField("payments.PaymentLine", on_delete=models.PROTECT, related_name="subscription")
    plan = models.ForeignKey("catalog.Plan", on_delete=models.PROTECT, related_name="subscriptions")
    plan_code = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    discount = models.PositiveBigIntegerField(default=0, help_text="paise: this line's share of the cart discount")
    total = models.PositiveBigIntegerField(help_text="paise: the plan price less discount, the amount paid")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="subscription_user_recent"),
            models.Index(fields=["user", "plan", "status", "ends_at"], name="subscription_user_plan_end"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(discount__gte=0, total__gte=0), name="subscription_money_not_negative"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="subscription_ends_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.plan_code} for {self.user_id} until {self.ends_at:%Y-%m-%d}"
