"""The gateway sandbox as its own Django app: local imitations of the Razorpay and PhonePe APIs."""

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "payfirst.gateways.sandbox"
    label = "sandbox"
    verbose_name = "Gateway sandbox"
