"""The admin app with payfirst's site as the default `admin.site` (INSTALLED_APPS names this instead of
django.contrib.admin)."""

from django.contrib.admin.apps import AdminConfig


class PayfirstAdminConfig(AdminConfig):
    default_site = "payfirst.core.admin_site.PayfirstAdminSite"
