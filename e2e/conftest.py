"""Browser tests against the demo servers exactly as `make run` starts them.

`demo_server` (session) starts `make run` in its own process group on a free port, with a fresh database: when the
test run's own DATABASE_URL is PostgreSQL, a database named `<that name>_e2e` (dropped and re-created), otherwise a
temp SQLite file; the sandbox gets a temp SQLite file of its own. It waits (polling, with a deadline) for /healthz,
yields `.base_url` and `.sandbox_url`, and kills the whole process group at the end. The servers' output goes to a log
file under pytest's tmp dir and is printed if startup fails.

`browser` (session) is Debian's chromium driven by Playwright; `page` (function) a fresh context and page.
Screenshots go under `<pytest basetemp>/screenshots/` (see `screenshot_dir`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
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
STARTUP_SECONDS = 240
STOP_SECONDS = 20


@dataclass(frozen=True)
class DemoServer:
    base_url: str
    sandbox_url: str
    log_path: Path


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port_pair() -> int:
    """A port P with P and P+1 both free (the app and the sandbox server)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port < 65535 and _port_free(port) and _port_free(port + 1):
            return port
    raise RuntimeError("no two adjacent free ports found")


def _fresh_database_url(tmp: Path) -> str:
    """`<run's PostgreSQL db>_e2e`, dropped and re-created; otherwise a temp SQLite file."""
    run_url = os.environ.get("DATABASE_URL", "")
    if not run_url.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{tmp / 'e2e.sqlite3'}"
    import psycopg  # PostgreSQL runs only; SQLite runs need no driver

    parts = urlsplit(run_url)
    name = f"{parts.path.lstrip('/') or 'payfirst'}_e2e"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)  # polling interval while waiting for the condition, bounded by the deadline
    print(log_path.read_text(errors="replace"))
    raise RuntimeError(f"`make run` did not answer {url}/healthz (exit code {process.poll()}); its log is above")


def _sandbox_url(base_url: str, sandbox_port: int) -> str:
    """The sandbox's own server on PORT+1 when it runs one, else the sandbox inside the app."""
    own = f"http://127.0.0.1:{sandbox_port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for candidate in (own, base_url):
            try:
                if httpx.get(f"{candidate}/sandbox/faults/", timeout=2).status_code == 200:
                    return candidate
            except httpx.HTTPError:
                continue
        time.sleep(0.5)
    raise RuntimeError("the sandbox answers neither on SANDBOX_PORT nor inside the app")


def _stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_SECONDS)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    tmp = tmp_path_factory.mktemp("demo_server")
    port = _free_port_pair()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PORT": str(port),
        "SANDBOX_PORT": str(port + 1),
        "DATABASE_URL": _fresh_database_url(tmp),
        "SANDBOX_DATABASE_URL": f"sqlite:///{tmp / 'sandbox.sqlite3'}",
        "PAYFIRST_PUBLIC_BASE_URL": base_url,
        # The browser tests' pages are served on the app's own origin, so that is the front end here.
        "FRONTEND_BASE_URL": base_url,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the servers use their own settings, not the test settings
    log_path = tmp / "servers.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"PORT={port}"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed as a whole at the end
        )
    try:
        _wait_until_healthy(base_url, process, log_path)
        yield DemoServer(base_url=base_url, sandbox_url=_sandbox_url(base_url, port + 1), log_path=log_path)
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def screenshot_dir(request: pytest.FixtureRequest) -> Path:
    basetemp = request.config.option.basetemp
    root = Path(basetemp) if basetemp else REPO / "e2e" / "artifacts"
    directory = root / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context()
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()
