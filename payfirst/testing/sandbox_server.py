"""The gateway sandbox as a subprocess for tests: `python -m sandbox serve` on a free port with a fresh SQLite
database, its webhooks pointed at a given base URL (the app's live_server, or a recording receiver). payfirst never
imports the sandbox's code; tests reach it over HTTP exactly as the app does."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 60.0

# What the tests' sandbox is like unless a test starts its own: gateway time runs 1000 times faster (webhook retries a
# few milliseconds apart), refunds settle at once, an api_timeout holds its answer past the app's 5 s timeout, and
# one delivery thread sends webhooks one after another in the order they were made, so a test sees one story
# (concurrent delivery is what benchmarks/sandbox_load.py exercises).
TEST_ENV = {
    "SANDBOX_TIME_SCALE": "1000",
    "SANDBOX_REFUND_SETTLE_SECONDS": "0",
    "SANDBOX_HOLD_SECONDS": "6",
    "SANDBOX_DELIVERY_THREADS": "1",
    "SANDBOX_THREADS": "16",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_database_for(port: int) -> tuple[str, str] | None:
    """When the suite runs on PostgreSQL (DATABASE_URL), the sandbox does too: a fresh database named after the
    app's, created here and dropped when the server stops. Returns (its URL, the admin URL), or None on SQLite."""
    app_url = os.environ.get("DATABASE_URL", "")
    if not app_url.startswith(("postgres://", "postgresql://")):
        return None
    parts = urlsplit(app_url)
    name = f"{parts.path.lstrip('/') or 'payfirst'}_sandbox_{port}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urlunsplit(parts._replace(path=f"/{name}")), admin


def _drop_postgres_database(url: str, admin: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@dataclass
class SandboxServer:
    url: str
    process: subprocess.Popen[bytes]
    workdir: Path
    log_path: Path
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=15))
    postgres: tuple[str, str] | None = None  # (database URL, admin URL) of a database to drop at stop

    @property
    def razorpay(self) -> str:
        return f"{self.url}/sandbox/razorpay"

    @property
    def phonepe(self) -> str:
        return f"{self.url}/sandbox/phonepe"

    def arm(self, gateway: str, fault: str, count: int = 1, delay_seconds: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"gateway": gateway, "fault": fault, "count": count}
        if delay_seconds is not None:
            body["delay_seconds"] = delay_seconds
        response = self.client.post(f"{self.url}/sandbox/faults/", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def reset(self) -> None:
        """Clear every armed fault and enable both webhook endpoints again: each test starts from a kind sandbox."""
        self.client.delete(f"{self.url}/sandbox/faults/").raise_for_status()
        for gateway in ("razorpay", "phonepe"):
            self.client.post(f"{self.url}/sandbox/control/endpoints/", json={"gateway": gateway}).raise_for_status()

    def wipe(self) -> None:
        """Forget every order, payment, refund, webhook, job and fault (the sandbox's own tests start clean)."""
        self.client.post(f"{self.url}/sandbox/control/reset/").raise_for_status()

    def deliveries(self, **filters: str) -> list[dict[str, Any]]:
        """Every webhook delivery matching `filters` (gateway, subject, state, event), oldest first."""
        found: list[dict[str, Any]] = []
        url: str | None = f"{self.url}/sandbox/control/deliveries/"
        params: Mapping[str, Any] | None = {**filters, "page_size": 200}
        while url:
            response = self.client.get(url, params=params)
            response.raise_for_status()
            page = response.json()
            found.extend(page["results"])
            url, params = page["next"], None
        return list(reversed(found))

    def jobs(self, *, pending: bool = False) -> list[dict[str, Any]]:
        params = {"page_size": 200, **({"pending": 1} if pending else {})}
        response = self.client.get(f"{self.url}/sandbox/control/jobs/", params=params)
        response.raise_for_status()
        return list(response.json()["results"])

    def wait_idle(self, *, timeout: float = 30.0, horizon: float = 2.0) -> None:
        """Wait until no webhook and no job (a refund settling, ...) is due within `horizon` seconds: done, failed
        for good, or scheduled later."""
        deadline = time.monotonic() + timeout
        while True:
            soon = datetime.now().astimezone() + timedelta(seconds=horizon)
            busy = [
                item
                for item in self.deliveries(state="pending")
                if item["next_attempt_at"] is None or datetime.fromisoformat(item["next_attempt_at"]) <= soon
            ] + [item for item in self.jobs(pending=True) if datetime.fromisoformat(item["run_at"]) <= soon]
            if not busy:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the sandbox still has {len(busy)} things to do: {busy[:3]}")
            time.sleep(0.05)

    def wait_for(self, predicate: Any, *, timeout: float = 20.0, what: str = "the sandbox") -> Any:
        """Poll `predicate()` until it returns something truthy, and return that."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def refunds(self, gateway_payment_id: str, *, auth: tuple[str, str]) -> list[dict[str, Any]]:
        """The Razorpay refunds of one payment, as Razorpay's API lists them."""
        response = self.client.get(f"{self.razorpay}/v1/payments/{gateway_payment_id}/refunds", auth=auth)
        response.raise_for_status()
        return list(response.json()["items"])

    def stop(self, *, keep_database: bool = False) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.postgres and not keep_database:
            _drop_postgres_database(*self.postgres)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_sandbox(
    *,
    webhook_base: str,
    env: Mapping[str, str] | None = None,
    workdir: Path | None = None,
    database_url: str | None = None,
    port: int | None = None,
) -> SandboxServer:
    """Start a sandbox server and wait until it answers. `webhook_base` is where payfirst's webhook endpoints are
    (`<base>/api/payments/webhook/<gateway>/`). Its database is a fresh SQLite file in `workdir`, or a fresh
    PostgreSQL database when DATABASE_URL is PostgreSQL; pass `database_url` to start on an existing one."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="payfirst-sandbox-"))
    port = port or free_port()
    base = webhook_base.rstrip("/")
    child_env = {key: value for key, value in os.environ.items() if not key.startswith("SANDBOX_")}
    child_env.pop("DJANGO_SETTINGS_MODULE", None)
    child_env.update(TEST_ENV)
    postgres = None
    if database_url is None:
        postgres = _postgres_database_for(port)
        database_url = postgres[0] if postgres else f"sqlite:///{workdir / 'sandbox.sqlite3'}"
    child_env.update(
        {
            "SANDBOX_DATABASE_URL": database_url,
            "SANDBOX_PORT": str(port),
            "SANDBOX_WEBHOOK_URL_RAZORPAY": f"{base}/api/payments/webhook/razorpay/",
            "SANDBOX_WEBHOOK_URL_PHONEPE": f"{base}/api/payments/webhook/phonepe/",
            "PAYFIRST_PUBLIC_BASE_URL": base,
        }
    )
    child_env.update(env or {})
    log_path = workdir / f"sandbox-{port}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "serve", "--port", str(port)],
            cwd=REPO_ROOT,
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = SandboxServer(
        url=f"http://127.0.0.1:{port}", process=process, workdir=workdir, log_path=log_path, postgres=postgres
    )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the sandbox server exited with {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"the sandbox server did not answer within {START_TIMEOUT_SECONDS} s:\n{server.log()}")
        time.sleep(0.1)
