"""Fixtures shared by every app's tests: API clients, users and signed-in clients."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken


def pytest_configure(config: pytest.Config) -> None:
    """On SQLite the live server shares the test's one in-memory connection, so it serves one request at a time:
    the sandbox server's webhooks arrive on their own schedule, and two requests using that connection at once
    fail inside SQLite ("cannot open savepoint - SQL statements in progress"). PostgreSQL keeps Django's threads."""
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        from django.core.servers.basehttp import WSGIServer
        from django.test.testcases import LiveServerThread

        class OneRequestAtATime(WSGIServer):
            """Serves in the live server's own thread, which already holds the test's connection."""

            def __init__(self, *args: Any, connections_override: Any = None, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)

        LiveServerThread.server_class = OneRequestAtATime  # type: ignore[attr-defined]  # missing from django-stubs


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On SQLite, tests marked `postgres` are deselected (not skipped): they can only prove anything on PostgreSQL."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        kept = [item for item in items if item.get_closest_marker("postgres") is None]
        deselected = [item for item in items if item.get_closest_marker("postgres") is not None]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = kept


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_user(db):
    from payfirst.accounts.models import User

    counter = {"n": 0}

    def make(**extra) -> User:
        counter["n"] += 1
        email = extra.pop("email", f"user{counter['n']}@example.com")
        password = extra.pop("password", "correct-horse-battery")
        extra.setdefault("full_name", f"Test User {counter['n']}")
        return User.objects.create_user(email=email, password=password, **extra)

    return make


@pytest.fixture
def user(make_user):
    return make_user(email="asha@example.com", full_name="Asha Rao", phone="+919876543210")


@pytest.fixture
def other_user(make_user):
    return make_user(email="ravi@example.com", full_name="Ravi Kumar")


@pytest.fixture
def staff_user(make_user):
    return make_user(email="staff@example.com", full_name="Staff Member", is_staff=True)


def bearer_for(user) -> str:
    """The Authorization header value that signs `user` in to the API."""
    return f"Bearer {RefreshToken.for_user(user).access_token}"


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer_for(user))
    return client


@pytest.fixture
def auth_client(user) -> APIClient:
    return client_for(user)


@pytest.fixture
def other_client(other_user) -> APIClient:
    return client_for(other_user)


@pytest.fixture
def staff_client(staff_user) -> APIClient:
    return client_for(staff_user)


@pytest.fixture
def is_postgres() -> bool:
    return connection.vendor == "postgresql"


# The sandbox server (a subprocess on a free port) for tests that pay through it: see payfirst/testing/fixtures.py.
pytest_plugins = ["payfirst.testing.fixtures"]
