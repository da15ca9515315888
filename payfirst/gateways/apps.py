from django.apps import AppConfig


class GatewaysConfig(AppConfig):
    name = "payfirst.gateways"
    label = "gateways"
