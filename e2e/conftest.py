"""Browser tests against the demo exactly as `make run` serves it.

`demo_server` (session) starts `make run` in its own process group on free ports with a fresh database, waits until
/healthz answers, and stops the whole group at the end. `browser` (session) is Debian's chromium driven by
Playwright; `page` (function) is a fresh context and page at desktop size, `phone_page` the same at 390 px.
Screenshots go to `<--basetemp>/screenshots/`, or `e2e/artifacts/screenshots/` (git-ignored) without --basetemp.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_SECONDS = 240  # `make run` may first install the virtualenv's requirements


@dataclass(frozen=True)
class DemoServer:
    base_url: str  # the app: storefront, API, admin
    sandbox_url: str  # the sandbox gateways' server (the app itself while the sandbox lives inside it)
    log_path: Path


def _free_port_pair() -> int:
    """A port P with P and P+1 both free (the app and the sandbox server)."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port >= 65535:
            continue
        with socket.socket() as second:
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("No two adjacent free ports found.")


def _answers(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None


def _fresh_database(tmp: Path) -> str:
    """PostgreSQL when the test run uses it (`<its db>_e2e`, dropped and re-created), else a temp SQLite file."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{tmp / 'app.sqlite3'}"
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/") + "_e2e"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    tmp = tmp_path_factory.mktemp("demo")
    port = _free_port_pair()
    log_path = tmp / "servers.log"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "PAYFIRST_", "PYTEST_")) and key not in {"DATABASE_URL", "DEBUG"}
    }
    env.update(
        PORT=str(port),
        SANDBOX_PORT=str(port + 1),
        DATABASE_URL=_fresh_database(tmp),
        SANDBOX_DATABASE_URL=f"sqlite:///{tmp / 'sandbox.sqlite3'}",
        PAYFIRST_DATA_DIR=str(tmp / "data"),
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    log = log_path.open("wb")
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped as a whole below
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        sandbox_url = f"http://127.0.0.1:{port + 1}"
        for url in (f"{base_url}/healthz", f"{sandbox_url}/healthz"):  # the app, then the sandbox server
            while _answers(url) != 200:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    print(log_path.read_text(errors="replace")[-20000:])
                    pytest.fail(f"`make run` did not answer {url} (see the log above).")
                time.sleep(0.25)
        yield DemoServer(base_url=base_url, sandbox_url=sandbox_url, log_path=log_path)
    finally:
        _stop(process)
        log.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def screenshot_dir(request: pytest.FixtureRequest) -> Path:
    basetemp = request.config.option.basetemp
    root = Path(basetemp) if basetemp else REPO / "e2e" / "artifacts"
    path = root / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _page(browser, width: int, height: int, **options):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-IN", **options)
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.script_errors = errors  # type: ignore[attr-defined]
    return context, page


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context, page = _page(browser, 1280, 900)
    yield page
    context.close()
    assert not page.script_errors, page.script_errors


@pytest.fixture
def phone_page(browser):  # type: ignore[no-untyped-def]
    context, page = _page(browser, 390, 844, is_mobile=True, has_touch=True, device_scale_factor=2)
    yield page
    context.close()
    assert not page.script_errors, page.script_errors
