from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "payfirst.notifications"
    label = "notifications"
    verbose_name = "Notifications"
