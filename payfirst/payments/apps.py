from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payfirst.payments"
    label = "payments"
