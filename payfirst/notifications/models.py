"""The outbox: one row per email to send, written in the same transaction as the event it tells of."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from payfirst.core.models import TimestampedModel


class NotificationKind(models.TextChoices):
    PAYMENT_CONFIRMED = "payment_confirmed", "Payment confirmed (what it fulfilled)"
    REFUND_PROCESSED = "refund_processed", "Refund processed"
    BOOKING_CANCELLED = "booking_cancelled", "Booking cancelled"


class NotificationStatus(models.TextChoices):
    PENDING = "PENDING", "pending"
    SENT = "SENT", "sent"
    FAILED = "FAILED", "failed (gave up)"


class Notification(TimestampedModel):
    key = models.CharField(
        max_length=120, unique=True, help_text="what the email is about, once: e.g. capture:42, refund:7"
    )
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notifications", help_text="the recipient"
    )
    context = models.JSONField(default=dict, blank=True, help_text="the data the templates render, as written")
    status = models.CharField(max_length=8, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(help_text="the sweep sends a PENDING row again from this time")
    claimed_until = models.DateTimeField(
        null=True, blank=True, help_text="a sender holds the row until then (a crashed sender's claim runs out)"
    )
    to_email = models.EmailField(max_length=254, blank=True, help_text="the address it was sent to")
    subject = models.CharField(max_length=255, blank=True, help_text="as rendered when sent")
    body = models.TextField(blank=True, help_text="as rendered when sent")
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "email notification"
        verbose_name_plural = "Email outbox"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notification_due_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="SENT") | models.Q(sent_at__isnull=False), name="notification_sent_has_time"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to user {self.user_id} ({self.key})"
