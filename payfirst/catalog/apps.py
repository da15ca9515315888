from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "payfirst.catalog"
    label = "catalog"
