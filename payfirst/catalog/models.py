"""The catalog: products with variants and stock, services with packages and dated slots, subscription plans.

Availability is kept as counters changed only by conditional UPDATEs (see inventory.py), with CHECK
constraints as the backstop: a Variant's `reserved` never exceeds `stock_on_hand`, a Slot's `taken`
(live reservations plus confirmed bookings) never exceeds its `capacity`.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from payfirst.core.models import TimestampedModel


class LineKind(models.TextChoices):
    """What a cart or payment line sells: a product variant, a service package in a slot, or a plan."""

    PRODUCT = "product"
    SERVICE = "service"
    PLAN = "plan"


class TaxClass(TimestampedModel):
    """A GST treatment that catalog items share (e.g. "brassware", "religious ceremony"), with its rates over time in
    TaxRate. The rate applied to a sale is the one in force on the day of supply."""

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    note = models.CharField(max_length=300, blank=True, help_text="where the rate or exemption comes from")

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "tax classes"

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class TaxRate(models.Model):
    """One period of a tax class: from `effective_from` until the next row's date. `rate` is in basis points of a
    per cent (1800 = 18 %); `exempt` rows are exempt supplies (documented by a bill of supply, no tax)."""

    tax_class = models.ForeignKey(TaxClass, on_delete=models.CASCADE, related_name="rates")
    effective_from = models.DateField()
    rate = models.PositiveIntegerField(default=0, help_text="basis points: 1800 = 18 %")
    exempt = models.BooleanField(default=False)

    class Meta:
        ordering = ["tax_class_id", "effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["tax_class", "effective_from"], name="tax_rate_one_per_day"),
            models.CheckConstraint(condition=Q(rate__lte=4000), name="tax_rate_at_most_40_percent"),
            models.CheckConstraint(condition=Q(exempt=False) | Q(rate=0), name="tax_rate_exempt_is_zero"),
        ]

    def __str__(self) -> str:
        what = "exempt" if self.exempt else f"{self.rate / 100:g} %"
        return f"{self.tax_class.code} from {self.effective_from:%Y-%m-%d}: {what}"


def _hsn_sac_field() -> models.CharField:
    return models.CharField(
        max_length=8, blank=True, help_text="HSN code (goods) or SAC (services), 4 to 8 digits", verbose_name="HSN/SAC"
    )


def _tax_class_field() -> models.ForeignKey:
    return models.ForeignKey(
        TaxClass,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="its GST rates; none: the standard rate (GST_STANDARD_RATE)",
    )


class Product(TimestampedModel):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Variant(TimestampedModel):
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="variants")
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    price = models.PositiveBigIntegerField(help_text="paise")
    hsn_sac = _hsn_sac_field()
    tax_class = _tax_class_field()
    stock_on_hand = models.PositiveIntegerField(default=0, help_text="units in the warehouse, sold ones taken off")
    reserved = models.PositiveIntegerField(default=0, help_text="units held by live (pending) payments")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["product_id", "price", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="variant_price_positive"),
            models.CheckConstraint(condition=Q(reserved__lte=F("stock_on_hand")), name="variant_not_oversold"),
        ]

    @property
    def available(self) -> int:
        """What can be bought now: on hand minus live reservations."""
        return self.stock_on_hand - self.reserved

    def __str__(self) -> str:
        return f"{self.product.name} — {self.name} ({self.sku})"


class ServiceType(models.TextChoices):
    PUJA = "PUJA", "Puja"
    HOMAM = "HOMAM", "Homam"
    CONSULTATION = "CONSULTATION", "Consultation"
    CLASS = "CLASS", "Class"
    OTHER = "OTHER", "Other"


class Service(TimestampedModel):
    name = models.CharField(max_length=200)
    service_type = models.CharField(max_length=32, choices=ServiceType.choices, default=ServiceType.PUJA)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    # The customer's own cancellation (docs/storefront.md, "Cancelling"): allowed until this many hours before the
    # slot starts, refunding this share of what was paid for the booking (basis points: 10000 = all of it).
    cancel_cutoff_hours = models.PositiveIntegerField(
        default=24, help_text="customers may cancel a booking until this many hours before its slot starts"
    )
    cancel_refund_bp = models.PositiveIntegerField(
        default=10000, help_text="share of the booking's total refunded on such a cancellation, in basis points"
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(cancel_refund_bp__lte=10000), name="service_cancel_refund_bp_le_100pc")
        ]

    def __str__(self) -> str:
        return self.name


class ServicePackage(TimestampedModel):
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="packages")
    name = models.CharField(max_length=200)
    price = models.PositiveBigIntegerField(help_text="paise")
    hsn_sac = _hsn_sac_field()
    tax_class = _tax_class_field()
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["service_id", "price", "id"]
        constraints = [models.CheckConstraint(condition=Q(price__gt=0), name="package_price_positive")]

    def __str__(self) -> str:
        return f"{self.service.name} — {self.name}"


class Slot(TimestampedModel):
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="slots")
    date = models.DateField()
    time = models.TimeField()
    capacity = models.PositiveIntegerField()
    taken = models.PositiveIntegerField(default=0, help_text="confirmed bookings plus live reservations")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["service_id", "date", "time"]
        constraints = [
            models.UniqueConstraint(fields=["service", "date", "time"], name="slot_unique_per_service_time"),
            models.CheckConstraint(condition=Q(taken__lte=F("capacity")), name="slot_not_overbooked"),
        ]

    @property
    def remaining(self) -> int:
        return self.capacity - self.taken

    def __str__(self) -> str:
        return f"{self.service.name} {self.date:%Y-%m-%d} {self.time:%H:%M}"


class Plan(TimestampedModel):
    """The server-side plan table: a plan is bought by its code, at the price here."""

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    price = models.PositiveBigIntegerField(help_text="paise")
    duration_days = models.PositiveIntegerField()
    hsn_sac = _hsn_sac_field()
    tax_class = _tax_class_field()
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["price", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="plan_price_positive"),
            models.CheckConstraint(condition=Q(duration_days__gt=0), name="plan_duration_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"
