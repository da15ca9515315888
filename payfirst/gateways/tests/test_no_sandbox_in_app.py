"""The sandbox is another server: payfirst never imports, installs, routes or migrates it, in any mode."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from django.apps import apps
from django.urls import Resolver404, clear_url_caches, resolve

import payfirst

APP_ROOT = Path(payfirst.__file__).resolve().parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_module_of_payfirst_imports_the_sandbox():
    offenders = [
        str(path.relative_to(APP_ROOT))
        for path in APP_ROOT.rglob("*.py")
        if any(name == "sandbox" or name.startswith("sandbox.") for name in _imports(path))
    ]
    assert offenders == []


def test_the_sandbox_is_not_an_installed_app():
    assert not any(config.name == "sandbox" or config.label == "sandbox" for config in apps.get_app_configs())


@pytest.mark.parametrize("mode", ["sandbox", "live"])
def test_no_sandbox_path_is_routed_in_either_mode(settings, mode):
    settings.PAYFIRST_GATEWAYS = mode
    import config.urls

    importlib.reload(config.urls)
    clear_url_caches()
    try:
        for path in ("/sandbox/faults/", "/sandbox/razorpay/v1/orders", "/sandbox/phonepe/v1/oauth/token"):
            with pytest.raises(Resolver404):
                resolve(path)
    finally:
        importlib.reload(config.urls)
        clear_url_caches()
