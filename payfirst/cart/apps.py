from django.apps import AppConfig


class CartConfig(AppConfig):
    name = "payfirst.cart"
    label = "cart"
