"""Unsafe configurations are refused at start-up (`manage.py check`, and config/wsgi.py for gunicorn), and /metrics
is served only to the scrapers the configuration names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from payfirst.core.checks import check_unsafe_configuration, refuse_unsafe_configuration

ROOT = Path(__file__).resolve().parents[3]
REAL_KEY = "a-real-deployment-key-4f8c1e0b9a7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f"
PRODUCTION = {
    "DEBUG": False,
    "DEMO": False,
    "SECRET_KEY": REAL_KEY,
    "PAYFIRST_GATEWAYS": "live",
    "METRICS_ALLOW_FROM": ["10.0.0.0/8"],
    "METRICS_TOKEN": "",
    "METRICS_PUBLIC": False,
}


def _ids(**changes: object) -> set[str | None]:
    with override_settings(**{**PRODUCTION, **changes}):
        return {message.id for message in check_unsafe_configuration()}


def test_a_safe_production_configuration_passes():
    assert _ids() == set()
    assert _ids(METRICS_ALLOW_FROM=[], METRICS_TOKEN="scrape-secret") == set()
    assert _ids(METRICS_ALLOW_FROM=[], METRICS_PUBLIC=True) == set()


def test_the_sandbox_with_debug_off_and_no_demo_flag_is_an_error():
    assert _ids(PAYFIRST_GATEWAYS="sandbox") == {"payfirst.E001"}
    assert _ids(PAYFIRST_GATEWAYS="sandbox", DEMO=True) == set()
    assert _ids(PAYFIRST_GATEWAYS="sandbox", DEBUG=True) == set()


def test_the_demo_secret_key_outside_the_demo_is_an_error_and_with_debug_a_warning():
    assert _ids(SECRET_KEY=settings.DEMO_SECRET_KEY) == {"payfirst.E002"}
    assert _ids(SECRET_KEY=settings.DEMO_SECRET_KEY, DEBUG=True) == {"payfirst.W002"}
    assert _ids(SECRET_KEY=settings.DEMO_SECRET_KEY, DEMO=True) == set()


def test_metrics_open_in_production_is_an_error_and_a_bad_network_too():
    assert _ids(METRICS_ALLOW_FROM=[]) == {"payfirst.E004"}
    assert _ids(METRICS_ALLOW_FROM=["10.0.0.0/8", "not-a-network"]) == {"payfirst.E003"}


def test_refuse_unsafe_configuration_raises_with_every_reason():
    with override_settings(**{**PRODUCTION, "PAYFIRST_GATEWAYS": "sandbox", "METRICS_ALLOW_FROM": []}):
        with pytest.raises(ImproperlyConfigured) as refused:
            refuse_unsafe_configuration()
    assert "payfirst.E001" in str(refused.value) and "payfirst.E004" in str(refused.value)
    with override_settings(**PRODUCTION):
        refuse_unsafe_configuration()


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"PAYFIRST_DEMO", "DEBUG", "DJANGO_SETTINGS_MODULE"}}
    clean.update({"ALLOWED_HOSTS": "example.com", "DATABASE_URL": "sqlite:///:memory:", **env})
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120)


def test_manage_py_check_and_the_wsgi_module_refuse_the_sandbox_in_production():
    unsafe = {"SECRET_KEY": REAL_KEY, "PAYFIRST_GATEWAYS": "sandbox"}
    checked = _run(["manage.py", "check"], **unsafe)
    assert checked.returncode != 0 and "payfirst.E001" in checked.stderr and "payfirst.E004" in checked.stderr
    loaded = _run(["-c", "import config.wsgi"], **unsafe)
    assert loaded.returncode != 0 and "Refusing to start" in loaded.stderr

    safe = {"SECRET_KEY": REAL_KEY, "PAYFIRST_GATEWAYS": "live", "METRICS_TOKEN": "t"}
    assert _run(["manage.py", "check"], **safe).returncode == 0
    assert _run(["-c", "import config.wsgi"], **safe).returncode == 0


def test_the_demo_passes_the_checks_as_make_run_starts_it():
    assert _run(["manage.py", "check"], PAYFIRST_DEMO="1").returncode == 0


# --- /metrics access ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(**{**PRODUCTION, "METRICS_ALLOW_FROM": ["10.1.0.0/16", "192.0.2.7"], "METRICS_TOKEN": "scrape-me"})
def test_metrics_are_served_to_allowed_networks_and_the_token_only(client):
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 200
    refused = client.get("/metrics", REMOTE_ADDR="192.0.2.8")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.8", HTTP_AUTHORIZATION="Bearer scrape-me").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.8", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    # A forged X-Forwarded-For does not get in: only the socket's address counts.
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.8", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 403


@pytest.mark.django_db
def test_metrics_stay_open_in_the_demo(client):
    assert settings.DEMO
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 200
