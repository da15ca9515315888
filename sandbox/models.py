"""The sandbox's own state: Razorpay orders, payments and refunds, PhonePe tokens, orders, attempts and refunds,
armed faults, and the outbox of webhooks with every delivery attempt. Stored so several processes share it."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class RazorpayOrder(models.Model):
    class Status(models.TextChoices):
        CREATED = "created"
        ATTEMPTED = "attempted"
        PAID = "paid"

    id = models.CharField(primary_key=True, max_length=32)  # order_ + 14 base62
    amount = models.PositiveBigIntegerField(help_text="paise")
    amount_paid = models.PositiveBigIntegerField(default=0, help_text="paise")
    currency = models.CharField(max_length=3)
    # Razorpay renders a missing receipt as null, distinct from "".
    receipt = models.CharField(max_length=40, null=True, blank=True)  # noqa: DJ001
    notes = models.JSONField(default=dict, blank=True)
    # Razorpay's legacy `payment_capture` flag: a successful payment is captured at once unless it is off.
    auto_capture = models.BooleanField(default=True)
    # How long an authorised, uncaptured payment waits before Razorpay refunds it (None: SANDBOX_AUTO_REFUND_SECONDS).
    auto_refund_seconds = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=100), name="sandbox_rzp_order_amount_min"),
            models.CheckConstraint(condition=Q(amount_paid__lte=F("amount")), name="sandbox_rzp_order_paid_le_amount"),
        ]

    def __str__(self) -> str:
        return self.id


class RazorpayPayment(models.Model):
    class Status(models.TextChoices):
        CREATED = "created"
        AUTHORIZED = "authorized"
        CAPTURED = "captured"
        REFUNDED = "refunded"
        FAILED = "failed"

    id = models.CharField(primary_key=True, max_length=32)  # pay_ + 14 base62
    order = models.ForeignKey(RazorpayOrder, on_delete=models.PROTECT, related_name="payments")
    amount = models.PositiveBigIntegerField(help_text="paise")
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices)
    is_captured = models.BooleanField(default=False)  # Razorpay's `captured`: stays true after refunds
    amount_refunded = models.PositiveBigIntegerField(default=0, help_text="paise")
    method = models.CharField(max_length=16, default="upi")
    vpa = models.CharField(max_length=64, default="success@razorpay")
    email = models.CharField(max_length=254, default="customer@example.com")
    contact = models.CharField(max_length=20, default="+919999999999")
    error_code = models.CharField(max_length=32, blank=True)
    error_description = models.CharField(max_length=255, blank=True)
    error_source = models.CharField(max_length=32, blank=True)
    error_step = models.CharField(max_length=64, blank=True)
    error_reason = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    captured_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_refunded__lte=F("amount")), name="sandbox_rzp_payment_refunds_le_amount"
            ),
        ]

    def __str__(self) -> str:
        return self.id


class RazorpayRefund(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSED = "processed"
        FAILED = "failed"

    id = models.CharField(primary_key=True, max_length=32)  # rfnd_ + 14 base62
    payment = models.ForeignKey(RazorpayPayment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.PositiveBigIntegerField(help_text="paise")
    currency = models.CharField(max_length=3)
    # Razorpay renders a missing receipt as null. Receipts are not unique: Razorpay does not de-duplicate on them.
    receipt = models.CharField(max_length=40, null=True, blank=True)  # noqa: DJ001
    # X-Refund-Idempotency: the key and a digest of the request body it was first used with.
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    request_digest = models.CharField(max_length=64, blank=True)
    notes = models.JSONField(default=dict, blank=True)
    speed_requested = models.CharField(max_length=16, default="normal")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # Set at creation when a refund_failure fault was taken: the refund is accepted (pending) and settles failed.
    settles_failed = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One refund per X-Refund-Idempotency key and payment: a retry finds the first instead of refunding twice.
            models.UniqueConstraint(
                fields=["payment", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="sandbox_rzp_refund_idempotency_once",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="sandbox_rzp_refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.id


class PhonePeToken(models.Model):
    """An issued O-Bearer token. Only its SHA256 is kept, so the table holds no usable credential."""

    token_digest = models.CharField(max_length=64, unique=True)
    client_id = models.CharField(max_length=128)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"token for {self.client_id} until {self.expires_at:%Y-%m-%d %H:%M}"


class PhonePeOrder(models.Model):
    class State(models.TextChoices):
        PENDING = "PENDING"
        COMPLETED = "COMPLETED"
        FAILED = "FAILED"

    merchant_order_id = models.CharField(max_length=63, unique=True)
    order_id = models.CharField(max_length=40, unique=True)  # OMO...
    amount = models.PositiveBigIntegerField(help_text="paise")
    amount_refunded = models.PositiveBigIntegerField(default=0, help_text="paise")
    meta_info = models.JSONField(null=True, blank=True)
    message = models.CharField(max_length=256, blank=True)
    phone_number = models.CharField(max_length=20, blank=True)  # prefillUserLoginDetails.phoneNumber, if sent
    redirect_url = models.TextField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    error_code = models.CharField(max_length=32, blank=True)
    detailed_error_code = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    expire_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=100), name="sandbox_pp_order_amount_min"),
            models.CheckConstraint(condition=Q(amount_refunded__lte=F("amount")), name="sandbox_pp_refunds_le_amount"),
        ]

    def __str__(self) -> str:
        return self.merchant_order_id


class PhonePeTransaction(models.Model):
    """One payment attempt on an order (PhonePe's paymentDetails entry)."""

    class State(models.TextChoices):
        PENDING = "PENDING"
        COMPLETED = "COMPLETED"
        FAILED = "FAILED"

    transaction_id = models.CharField(max_length=40, unique=True)  # OM...
    order = models.ForeignKey(PhonePeOrder, on_delete=models.PROTECT, related_name="transactions")
    amount = models.PositiveBigIntegerField(help_text="paise")
    state = models.CharField(max_length=16, choices=State.choices)
    payment_mode = models.CharField(max_length=16, default="UPI_INTENT")
    utr = models.CharField(max_length=32, blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    detailed_error_code = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            # An order is paid at most once, whatever races the hosted page sees.
            models.UniqueConstraint(
                fields=["order"], condition=Q(state="COMPLETED"), name="sandbox_pp_one_completed_attempt"
            ),
        ]

    def __str__(self) -> str:
        return self.transaction_id


class PhonePeRefund(models.Model):
    class State(models.TextChoices):
        PENDING = "PENDING"
        CONFIRMED = "CONFIRMED"
        COMPLETED = "COMPLETED"
        FAILED = "FAILED"

    merchant_refund_id = models.CharField(max_length=63, unique=True)
    refund_id = models.CharField(max_length=40, unique=True)  # OMR...
    order = models.ForeignKey(PhonePeOrder, on_delete=models.PROTECT, related_name="refunds")
    amount = models.PositiveBigIntegerField(help_text="paise")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    # Set at creation when a refund_failure fault was taken: the refund is accepted, then ends FAILED.
    settles_failed = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="sandbox_pp_refund_amount_positive")]

    def __str__(self) -> str:
        return self.merchant_refund_id


class Fault(models.Model):
    """A fault armed for the next `remaining` uses. Uses are taken by conditional UPDATE, so each is taken once."""

    class Gateway(models.TextChoices):
        RAZORPAY = "razorpay"
        PHONEPE = "phonepe"

    class Kind(models.TextChoices):
        API_ERROR = "api_error"
        API_TIMEOUT = "api_timeout"
        WEBHOOK_DROP = "webhook_drop"
        WEBHOOK_DUPLICATE = "webhook_duplicate"
        WEBHOOK_DELAY = "webhook_delay"
        WEBHOOK_REORDER = "webhook_reorder"
        REFUND_FAILURE = "refund_failure"
        RATE_LIMIT = "rate_limit"  # the next API calls answer 429 in the gateway's words
        MANUAL_CAPTURE = "manual_capture"  # Razorpay: the next order is created as payment_capture=0
        LATE_AUTHORIZATION = "late_authorization"  # Razorpay: the next payment fails, then is authorised later
        DUPLICATE_PAYMENT = "duplicate_payment"  # Razorpay: a second payment on the paid order, auto-refunded at once
        FAILED_ATTEMPT = "failed_attempt"  # PhonePe: the next Pay is a failed attempt; the order stays payable
        ORDER_EXPIRY = "order_expiry"  # PhonePe: the next order expires after expireAfter (with its callback)

    gateway = models.CharField(max_length=16, choices=Gateway.choices)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    remaining = models.PositiveIntegerField()
    delay_seconds = models.PositiveIntegerField(null=True, blank=True)  # webhook_delay only
    armed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["armed_at", "pk"]
        indexes = [models.Index(fields=["gateway", "kind", "remaining"], name="sandbox_fault_lookup")]

    def __str__(self) -> str:
        return f"{self.gateway} {self.kind} x{self.remaining}"


class WebhookDelivery(models.Model):
    """One webhook in the outbox: the exact bytes to send and where. Delivered by a task on the "webhooks" queue."""

    class State(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"  # retried for the whole retry window, never answered 2xx
        DROPPED = "dropped"  # a webhook_drop fault: recorded, never sent
        SKIPPED = "skipped"  # the endpoint was disabled: not sent, as Razorpay sends nothing to a disabled webhook

    gateway = models.CharField(max_length=16)
    event = models.CharField(max_length=64)
    event_id = models.CharField(max_length=64, db_index=True)  # X-Razorpay-Event-Id; for PhonePe our own tracking id
    subject = models.CharField(max_length=64, db_index=True)  # the order, payment or refund id it is about
    url = models.CharField(max_length=500)  # the receiving endpoint, from the sandbox's SANDBOX_WEBHOOK_URL_* settings
    body = models.TextField()  # the exact JSON text; signed and sent as its UTF-8 bytes
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    is_duplicate = models.BooleanField(default=False)  # the extra copy a webhook_duplicate fault adds
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Set when a delivery thread claims the row; a claim whose thread died runs out and the row is claimed again.
    lease_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.gateway} {self.event} #{self.pk}"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="sandbox_webhook_attempt_once")]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"


class WebhookEndpoint(models.Model):
    """The merchant's webhook endpoint per gateway. Razorpay disables one that keeps failing for its whole retry
    window; a disabled endpoint gets nothing until it is enabled again."""

    gateway = models.CharField(max_length=16, unique=True)
    is_disabled = models.BooleanField(default=False)
    disabled_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.gateway} webhook ({'disabled' if self.is_disabled else 'enabled'})"


class Job(models.Model):
    """A piece of the gateways' own later work, due at `run_at`: a refund settling, an uncaptured authorisation
    auto-refunded, a late authorisation, an order expiring. Claimed with a lease like a webhook delivery."""

    class Kind(models.TextChoices):
        RAZORPAY_REFUND_SETTLE = "razorpay_refund_settle"
        RAZORPAY_AUTO_REFUND = "razorpay_auto_refund"
        RAZORPAY_LATE_AUTHORIZATION = "razorpay_late_authorization"
        PHONEPE_REFUND_STEP = "phonepe_refund_step"
        PHONEPE_ORDER_EXPIRY = "phonepe_order_expiry"

    kind = models.CharField(max_length=40, choices=Kind.choices)
    subject = models.CharField(max_length=64)
    run_at = models.DateTimeField(db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["run_at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}"
