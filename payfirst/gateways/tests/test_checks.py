"""Going live is not only configuration: with PAYFIRST_GATEWAYS=live the server refuses to start, naming each missing
credential and each wrong URL; a complete production configuration passes `manage.py check --deploy` clean."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from payfirst.gateways.checks import LIVE_CREDENTIALS, live_configuration_errors

ROOT = Path(__file__).resolve().parents[3]
ALL_CREDENTIALS = [name for credentials in LIVE_CREDENTIALS.values() for name, _ in credentials]
LIVE = {
    "PAYFIRST_GATEWAYS": "live",
    "PAYFIRST_PUBLIC_BASE_URL": "https://pay.example.com",
    "FRONTEND_BASE_URL": "https://shop.example.com",
    "METRICS_TOKEN": "scrape-token",
    **{name: f"live-{name.lower()}" for name in ALL_CREDENTIALS},
}


def test_a_complete_live_configuration_has_no_errors(settings):
    for name, value in LIVE.items():
        setattr(settings, name, value)
    assert live_configuration_errors() == []


def test_sandbox_mode_is_not_checked(settings):
    settings.PAYFIRST_GATEWAYS = "sandbox"
    settings.RAZORPAY_KEY_SECRET = ""
    assert live_configuration_errors() == []


@pytest.mark.parametrize("missing", ALL_CREDENTIALS)
def test_each_missing_gateway_credential_is_named(settings, missing):
    for name, value in {**LIVE, missing: ""}.items():
        setattr(settings, name, value)
    errors = live_configuration_errors()
    assert [error.id for error in errors] == ["payfirst.E101"]
    assert errors[0].msg.startswith(f"{missing} is not set")


@pytest.mark.parametrize(
    ("url", "error_id"),
    [("", "payfirst.E102"), ("http://pay.example.com", "payfirst.E103"), ("https://", "payfirst.E103")],
)
def test_the_public_base_url_must_be_set_and_https(settings, url, error_id):
    for name, value in {**LIVE, "PAYFIRST_PUBLIC_BASE_URL": url}.items():
        setattr(settings, name, value)
    assert [error.id for error in live_configuration_errors()] == [error_id]


def test_the_frontend_base_url_must_be_set(settings):
    for name, value in {**LIVE, "FRONTEND_BASE_URL": ""}.items():
        setattr(settings, name, value)
    errors = live_configuration_errors()
    assert [error.id for error in errors] == ["payfirst.E104"] and "FRONTEND_BASE_URL" in errors[0].msg


def _base_env(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "pay.example.com",
    }


def _manage(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`manage.py` in a fresh process with exactly this environment (nothing from the test run's)."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**_base_env(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_live_server_without_its_keys_and_urls_refuses_to_start(tmp_path):
    env = {"PAYFIRST_GATEWAYS": "live", "METRICS_TOKEN": "scrape-token"}
    result = _manage("check", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    for name in [*ALL_CREDENTIALS, "PAYFIRST_PUBLIC_BASE_URL", "FRONTEND_BASE_URL"]:
        assert f"{name} is not set" in result.stderr, name
    # gunicorn loads config.wsgi: it refuses to load, so no worker boots.
    loaded = subprocess.run(
        [sys.executable, "-c", "import config.wsgi"],
        cwd=ROOT,
        env={**_base_env(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert loaded.returncode != 0 and "Refusing to start" in loaded.stderr
    assert "RAZORPAY_KEY_SECRET is not set" in loaded.stderr


def test_check_deploy_is_clean_in_a_production_configuration(tmp_path):
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=LIVE, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
