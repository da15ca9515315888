"""The staff dashboard (payments per state, capture success rate, revenue per day) and the scrape-time payment
metrics."""

from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "payfirst.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard"

    def ready(self) -> None:
        from django.contrib import admin

        from payfirst.core.admin_site import PayfirstAdminSite
        from payfirst.dashboard.metrics import register_collectors

        # The admin index links to the dashboard first in its Operations section (payfirst's admin site).
        site = admin.site
        assert isinstance(site, PayfirstAdminSite), "payfirst's admin site must be installed (PayfirstAdminConfig)"
        site.add_operations_link(
            name="Dashboard",
            url_name="dashboard:index",
            description="Payments per state, capture success rate and revenue, last 30 days",
        )
        register_collectors()
