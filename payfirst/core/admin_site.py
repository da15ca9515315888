"""payfirst's admin site: the header says payfirst, and one "Operations" section holds the staff dashboard, the
periodic scheduler and the task queue's results (django-tasks-db's own admin app is folded into it)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse

OPERATIONS_APP = "ops"
FOLDED_INTO_OPERATIONS = ("django_tasks_database",)


class PayfirstAdminSite(admin.AdminSite):
    site_header = "payfirst"
    site_title = "payfirst admin"
    index_title = "Administration"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (name, URL name, what it shows): links listed first in the Operations section, e.g. the dashboard's.
        self.operations_links: list[tuple[str, str, str]] = []

    def add_operations_link(self, *, name: str, url_name: str, description: str) -> None:
        if all(existing[1] != url_name for existing in self.operations_links):
            self.operations_links.append((name, url_name, description))

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        apps = super().get_app_list(request, app_label)
        if app_label is not None:
            return apps
        links = [
            {
                "name": name,
                "object_name": url_name.replace(":", "_"),
                "admin_url": reverse(url_name),
                "add_url": None,
                "view_only": True,
                "perms": {"add": False, "change": False, "delete": False, "view": True},
                "description": description,
            }
            for name, url_name, description in self.operations_links
        ]
        operations = next((app for app in apps if app["app_label"] == OPERATIONS_APP), None)
        if operations is None:  # staff who may see none of ops' models still see the links
            if not links:
                return apps
            operations = {
                "name": "Operations",
                "app_label": OPERATIONS_APP,
                "app_url": links[0]["admin_url"],
                "has_module_perms": True,
                "models": [],
            }
            apps.append(operations)
        for app in apps:
            if app["app_label"] in FOLDED_INTO_OPERATIONS:
                operations["models"].extend(app["models"])
        operations["models"][:0] = links
        return [app for app in apps if app["app_label"] not in FOLDED_INTO_OPERATIONS]
