"""The email outbox in the admin: what was sent to whom and when, the message as sent, and what is still waiting.
Read-only: rows are written by the events they tell of and by the sender."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from payfirst.notifications.models import Notification, NotificationStatus
from payfirst.notifications.services import render


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "recipient", "subject_or_pending", "status", "attempts", "sent_at")
    list_filter = ("status", "kind")
    search_fields = ("key", "user__email", "to_email", "subject")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    fields = (
        "key",
        "kind",
        "user",
        "status",
        "attempts",
        "created_at",
        "sent_at",
        "next_attempt_at",
        "to_email",
        "subject",
        "message",
        "last_error",
    )
    readonly_fields = fields

    @admin.display(description="recipient", ordering="user__email")
    def recipient(self, notification: Notification) -> str:
        return notification.to_email or notification.user.email

    @admin.display(description="subject")
    def subject_or_pending(self, notification: Notification) -> str:
        return notification.subject or "(not sent yet)"

    @admin.display(description="message")
    def message(self, notification: Notification) -> str:
        if notification.status == NotificationStatus.SENT:
            return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', notification.body)
        subject, body = render(notification)
        return format_html(
            "<p>Not sent yet; as it would be rendered now:</p><p><strong>{}</strong></p>"
            '<pre style="white-space: pre-wrap; margin: 0">{}</pre>',
            subject,
            body,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        return False
