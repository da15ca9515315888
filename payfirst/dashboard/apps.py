"""The staff dashboard (payments per state, capture success rate, revenue per day) and the scrape-time payment
metrics."""

from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "payfirst.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard"

    def ready(self) -> None:
        from django.contrib import admin

        from payfirst.dashboard.metrics import register_collectors

        # The admin index links to the dashboard through this template; another index template set on purpose wins.
        if admin.site.index_template is None:
            admin.site.index_template = "dashboard/admin_index.html"
        register_collectors()
