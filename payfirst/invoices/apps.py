from django.apps import AppConfig


class InvoicesConfig(AppConfig):
    name = "payfirst.invoices"
    label = "invoices"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from payfirst.invoices import checks  # noqa: F401  (registers the seller settings check)
