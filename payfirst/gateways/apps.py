from django.apps import AppConfig

from payfirst.gateways import checks  # noqa: F401 - registers the live-mode system checks


class GatewaysConfig(AppConfig):
    name = "payfirst.gateways"
    label = "gateways"
