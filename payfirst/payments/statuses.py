"""Payment statuses and event sources: a leaf module, so the models and the state table both import it."""

from __future__ import annotations

from django.db import models


class PaymentStatus(models.TextChoices):
    PENDING = "PENDING"
    CAPTURED = "CAPTURED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"
    SUPERSEDED = "SUPERSEDED"
    FLAGGED = "FLAGGED"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"


class EventSource(models.TextChoices):
    """What caused a state change (the audit trail's "source")."""

    API = "api"
    CONFIRM = "confirm"
    WEBHOOK = "webhook"
    REDIRECT = "redirect"
    RECONCILE = "reconcile"
    ADMIN = "admin"
    EXPIRY = "expiry"
