"""Payments: the payment and its cart snapshot, the append-only audit trail, refunds, the webhook inbox and
idempotency records. Workflows live in services.py; these models hold data and the database's invariants.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from payfirst.core.models import TimestampedModel
from payfirst.core.money import rupees
from payfirst.payments.statuses import EventSource, PaymentStatus


def new_payment_reference() -> str:
    """Our own id for a payment, sent to the gateway (Razorpay receipt, PhonePe merchantOrderId)."""
    return f"PF{secrets.token_hex(10).upper()}"


def new_refund_reference() -> str:
    return f"PFR{secrets.token_hex(10).upper()}"


class GatewayName(models.TextChoices):
    RAZORPAY = "razorpay", "Razorpay"
    PHONEPE = "phonepe", "PhonePe"


class ReservationState(models.TextChoices):
    """What the payment's lines hold in the catalog counters (Variant.reserved, Slot.taken)."""

    HELD = "HELD"  # reserved while the payment is pending
    CONSUMED = "CONSUMED"  # turned into a sale at capture (stock taken off, slot stays taken)
    RELEASED = "RELEASED"  # given back (expired, cancelled, superseded, failed, flagged, gateway error)


class Payment(TimestampedModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments")
    cart = models.ForeignKey("cart.Cart", on_delete=models.PROTECT, related_name="payments")
    reference = models.CharField(max_length=40, unique=True, default=new_payment_reference)
    status = models.CharField(max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    gateway = models.CharField(max_length=16, choices=GatewayName.choices)
    amount = models.PositiveBigIntegerField(help_text="paise; subtotal - discount, priced from the database")
    currency = models.CharField(max_length=3, default="INR")
    subtotal = models.PositiveBigIntegerField(help_text="paise")
    discount = models.PositiveBigIntegerField(default=0, help_text="paise")
    promo = models.ForeignKey(
        "cart.PromoCode", on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    shipping_address = models.JSONField(null=True, blank=True, help_text="snapshot in the Address API shape")
    billing_address = models.JSONField(null=True, blank=True, help_text="snapshot in the Address API shape")
    redirect_url = models.CharField(max_length=2000, blank=True, help_text="where the browser returns after paying")
    contents_hash = models.CharField(
        max_length=64, help_text="fingerprint of the priced cart; an identical cart reuses this pending payment"
    )
    items_count = models.PositiveIntegerField(default=0)
    reservation = models.CharField(max_length=10, choices=ReservationState.choices, default=ReservationState.HELD)
    gateway_order_id = models.CharField(max_length=64, blank=True, default="")
    gateway_payment_id = models.CharField(max_length=64, blank=True, default="")
    checkout = models.JSONField(default=dict, blank=True, help_text="what the front end needs to pay; no secrets")
    order_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="when a request last started opening the gateway order (a short lease)"
    )
    order_attempts = models.PositiveSmallIntegerField(
        default=1, help_text="how many times opening the gateway order was started (PhonePe: one merchantOrderId each)"
    )
    gateway_amount = models.PositiveBigIntegerField(null=True, blank=True, help_text="paise the gateway reported")
    gateway_currency = models.CharField(max_length=3, blank=True, default="")
    refunded_amount = models.PositiveBigIntegerField(default=0, help_text="paise refunded (processed refunds)")
    expires_at = models.DateTimeField()
    captured_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(amount=F("subtotal") - F("discount")), name="payment_amount_is_subtotal_less_discount"
            ),
            models.CheckConstraint(condition=Q(refunded_amount__lte=F("amount")), name="payment_refund_within_amount"),
            models.UniqueConstraint(
                fields=["gateway", "gateway_order_id"],
                condition=~Q(gateway_order_id=""),
                name="payment_gateway_order_unique",
            ),
            models.UniqueConstraint(
                fields=["cart"], condition=Q(status="PENDING"), name="payment_one_pending_per_cart"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "expires_at"], name="payment_status_expiry_idx"),
            models.Index(fields=["user", "-created_at"], name="payment_user_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.status} {rupees(self.amount)}"


class PaymentLine(models.Model):
    """The cart snapshot taken when the payment is created; fulfilment is built from these, never from the cart."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="lines")
    kind = models.CharField(max_length=8)  # "product" | "service" | "plan"
    variant = models.ForeignKey("catalog.Variant", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    package = models.ForeignKey(
        "catalog.ServicePackage", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    slot = models.ForeignKey("catalog.Slot", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    plan = models.ForeignKey("catalog.Plan", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    name = models.CharField(max_length=255)
    sku = models.CharField(max_length=64, blank=True)
    selected_date = models.DateField(null=True, blank=True)
    selected_time = models.TimeField(null=True, blank=True)
    quantity = models.PositiveIntegerField()
    unit_price = models.PositiveBigIntegerField(help_text="paise")
    line_total = models.PositiveBigIntegerField(help_text="paise")
    discount = models.PositiveBigIntegerField(default=0, help_text="paise; this line's share of the cart discount")
    total = models.PositiveBigIntegerField(help_text="paise; line_total - discount")
    devotee_name = models.CharField(max_length=120, blank=True, help_text="service lines")
    note = models.CharField(max_length=500, blank=True, help_text="service lines")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="payment_line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(line_total=F("unit_price") * F("quantity")), name="payment_line_total_is_price_times_qty"
            ),
            models.CheckConstraint(
                condition=Q(total=F("line_total") - F("discount")), name="payment_line_total_less_discount"
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind="product", variant__isnull=False, slot__isnull=True, plan__isnull=True)
                    | Q(
                        kind="service",
                        package__isnull=False,
                        slot__isnull=False,
                        variant__isnull=True,
                        plan__isnull=True,
                        quantity=1,
                    )
                    | Q(kind="plan", plan__isnull=False, variant__isnull=True, slot__isnull=True, quantity=1)
                ),
                name="payment_line_kind_fields",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} x{self.quantity}"


class AppendOnlyQuerySet(models.QuerySet):
    """Audit rows are written once: bulk updates and deletes are refused at the ORM."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError("Payment events are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("Payment events are append-only.")


class PaymentEvent(models.Model):
    """One line of a payment's audit trail: a state change (or a notable non-change), who caused it, and why."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="events")
    from_status = models.CharField(max_length=20, blank=True, help_text="blank for the creation event")
    to_status = models.CharField(max_length=20)
    source = models.CharField(max_length=12, choices=EventSource.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    detail = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True, help_text="the gateway's answer or webhook that caused it")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '∅'} → {self.to_status} ({self.source})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("Payment events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Payment events are append-only.")


class AttemptDecision(models.TextChoices):
    """What payfirst made of one gateway attempt on a payment's order."""

    NOTED = "NOTED", "noted (pending or failed: the order stays payable)"
    CAPTURE_REQUESTED = "CAPTURE_REQUESTED", "capture requested (sent to the gateway)"
    CAPTURED = "CAPTURED", "the payment's money"
    LEFT_UNCAPTURED = "LEFT_UNCAPTURED", "left uncaptured (the gateway returns it without a fee)"
    RETURNED = "RETURNED", "returned by the gateway uncaptured (never money)"
    EXTRA_REFUNDED = "EXTRA_REFUNDED", "a second capture on the order: refunded"


class PaymentAttempt(TimestampedModel):
    """One attempt inside the payment's gateway order (Razorpay pay_..., PhonePe transactionId), and what payfirst did
    about it. Every attempt is accounted for: the captured one is the payment's money, a failed one is on the
    timeline, an authorised one is captured only through the capture door (this row is the intent, written and
    committed before the gateway is asked), and extra money is left to lapse or refunded."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="attempts")
    gateway_payment_id = models.CharField(max_length=64)
    gateway_status = models.CharField(max_length=16, help_text="the attempt's status as the gateway last reported it")
    amount = models.PositiveBigIntegerField(help_text="paise")
    currency = models.CharField(max_length=3, default="INR")
    decision = models.CharField(max_length=20, choices=AttemptDecision.choices, default=AttemptDecision.NOTED)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["payment", "gateway_payment_id"], name="payment_attempt_once"),
        ]

    def __str__(self) -> str:
        return f"{self.gateway_payment_id} {self.gateway_status} {self.decision}"


class RefundStatus(models.TextChoices):
    PENDING = "PENDING"
    PROCESSED = "PROCESSED"
    FAILED = "FAILED"


class RefundSource(models.TextChoices):
    PAYFIRST = "payfirst", "payfirst (staff, the API or automatic)"
    GATEWAY = "gateway", "made at the gateway, outside payfirst"


class Refund(TimestampedModel):
    """Money going back. Recorded first (PENDING), then sent to the gateway under `reference` (its idempotency key)."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    reference = models.CharField(max_length=40, unique=True, default=new_refund_reference)
    amount = models.PositiveBigIntegerField(help_text="paise")
    status = models.CharField(max_length=10, choices=RefundStatus.choices, default=RefundStatus.PENDING)
    reason = models.TextField()
    is_automatic = models.BooleanField(default=False, help_text="started by payfirst itself, e.g. a late capture")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=10, choices=RefundSource.choices, default=RefundSource.PAYFIRST)
    gateway_payment_id = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="the attempt refunded, when it is not the payment's own captured one (a duplicate payment)",
    )
    gateway_refund_id = models.CharField(max_length=64, blank=True, default="")
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive")]

    def __str__(self) -> str:
        return f"{self.reference} {self.status} {rupees(self.amount)}"


class WebhookOutcome(models.TextChoices):
    RECEIVED = "received"  # stored, not handled yet (rows from before processing moved to the worker)
    QUEUED = "queued"  # verified and first seen: the worker processes it
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    INVALID_SIGNATURE = "invalid_signature"  # counted and kept short: only the first bytes of the body are stored
    ERROR = "error"  # processing failed; the worker tries again at next_attempt_at
    FAILED = "failed"  # processing failed every time it was tried: an alarm, for a person to look at


class WebhookKind(models.TextChoices):
    PAYMENT = "payment"
    REFUND = "refund"
    OTHER = "other"


class WebhookEvent(models.Model):
    """Every delivery, trusted or not: a verified one whole, a forged or unsigned one as its first bytes only."""

    gateway = models.CharField(max_length=16, choices=GatewayName.choices)
    headers = models.JSONField(default=dict)
    body = models.TextField(help_text="the raw body; for a delivery that failed verification, its first bytes only")
    body_size = models.PositiveIntegerField(default=0, help_text="bytes received")
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    is_verified = models.BooleanField(default=False)
    is_claimed = models.BooleanField(
        default=False, help_text="the first verified delivery of its event id; duplicates stay unclaimed"
    )
    event_id = models.CharField(max_length=128, blank=True, default="")
    event_name = models.CharField(max_length=64, blank=True, default="")
    gateway_order_id = models.CharField(max_length=64, blank=True, default="")
    kind = models.CharField(max_length=8, choices=WebhookKind.choices, blank=True, default="")
    gateway_refund_id = models.CharField(max_length=64, blank=True, default="")
    refund_reference = models.CharField(max_length=64, blank=True, default="")
    # The gateway's payment (attempt) the event names, e.g. a refund webhook's payment_id: how a refund made at the
    # gateway is matched to its payment when processed later.
    gateway_payment_id = models.CharField(max_length=64, blank=True, default="")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="webhook_events")
    outcome = models.CharField(max_length=20, choices=WebhookOutcome.choices, default=WebhookOutcome.RECEIVED)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="when the worker tries a failed one again")
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "event_id"], condition=Q(is_claimed=True), name="webhook_event_once_per_gateway"
            ),
        ]
        indexes = [models.Index(fields=["outcome", "received_at"], name="webhook_outcome_idx")]

    def __str__(self) -> str:
        return f"{self.gateway} {self.event_name or '?'} {self.event_id or '-'} {self.outcome}"


class IdempotencyState(models.TextChoices):
    IN_PROGRESS = "in_progress"
    DONE = "done"


class IdempotencyRecord(models.Model):
    """The first answer to a POST sent with an Idempotency-Key, replayed for the same user, key and body."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="sha256 of method, path and the canonical body")
    state = models.CharField(max_length=12, choices=IdempotencyState.choices, default=IdempotencyState.IN_PROGRESS)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key} {self.state}"
