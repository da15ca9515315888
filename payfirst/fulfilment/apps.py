from django.apps import AppConfig


class FulfilmentConfig(AppConfig):
    name = "payfirst.fulfilment"
    label = "fulfilment"
