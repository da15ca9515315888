from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "payfirst.accounts"
    label = "accounts"
