from django.apps import AppConfig


class StorefrontConfig(AppConfig):
    name = "payfirst.storefront"
    label = "storefront"
