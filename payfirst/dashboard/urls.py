"""The dashboard's URL, mounted at /admin/dashboard/ (before the admin's own URLs, which would answer it with a 404)."""

from django.urls import path

from payfirst.dashboard.views import dashboard_view

app_name = "dashboard"

urlpatterns = [
    path("", dashboard_view, name="index"),
]
