from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "payfirst.core"
    label = "core"
