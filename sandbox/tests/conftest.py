"""Fixtures for the sandbox's own tests, which drive it only over HTTP: a recording webhook receiver (a real HTTP
server standing in for payfirst's webhook endpoints) and the sandbox server as a subprocess (payfirst/testing) whose
webhooks go to it, with one delivery thread so webhooks arrive in the order the sandbox created them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import razorpay

from payfirst.testing.sandbox_server import SandboxServer, start_sandbox


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def event(self) -> str:
        return self.json()["event"]


@dataclass
class Receiver:
    """Answers each POST with the next status in `statuses` (200 once they run out) and records it."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    hold: threading.Event | None = None  # when set, each answer waits for this event (a slow endpoint)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrivals: int = 0  # requests that reached the receiver, answered or still held

    def events(self) -> list[str]:
        return [item.event for item in self.received]

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.statuses.clear()
            self.arrivals = 0
        if self.hold is not None:
            self.hold.set()
        self.hold = None

    def wait_for(self, count: int, *, timeout: float = 20.0) -> list[Received]:
        """Wait until at least `count` webhooks arrived; return them."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} webhooks arrived, not {count}: {self.events()}")
            time.sleep(0.02)
        return list(self.received)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with receiver.lock:
                receiver.arrivals += 1
            if receiver.hold is not None:
                receiver.hold.wait(timeout=10)
            with receiver.lock:
                receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
            payload = json.dumps({"status": "processed"}).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sandbox gave up waiting (a timeout test): nothing to answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(scope="session")
def receiver_server() -> Iterator[Receiver]:
    recorder = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recorder))
    server.daemon_threads = True
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield recorder
    recorder.reset()
    server.shutdown()
    server.server_close()


# The sandbox's own tests see webhooks in the order the sandbox created them (one delivery thread), and a refund
# stays at each step for 1.5 s (1500 gateway seconds at the tests' time scale of 1000), long enough to be seen there.
SANDBOX_TEST_ENV = {"SANDBOX_DELIVERY_THREADS": "1", "SANDBOX_REFUND_SETTLE_SECONDS": "1500"}


@pytest.fixture(scope="session")
def sandbox_for_tests(receiver_server: Receiver) -> Iterator[SandboxServer]:
    server = start_sandbox(webhook_base=receiver_server.url, env=SANDBOX_TEST_ENV)
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_for_tests: SandboxServer, receiver_server: Receiver) -> Iterator[SandboxServer]:
    """The sandbox server, empty and kind (no data, no faults armed, both endpoints enabled), with nothing left to
    send from the test before. Shadows the app-side fixture of the same name: these tests need no payfirst server."""
    sandbox_for_tests.wait_idle()
    sandbox_for_tests.wipe()
    receiver_server.reset()
    yield sandbox_for_tests
    receiver_server.reset()


@pytest.fixture
def receiver(sandbox: SandboxServer, receiver_server: Receiver) -> Receiver:
    return receiver_server


@pytest.fixture
def rzp(sandbox: SandboxServer, settings) -> Iterator[razorpay.Client]:  # type: ignore[no-untyped-def]
    """The official Razorpay SDK pointed at the sandbox."""
    client = razorpay.Client(auth=(settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET), base_url=sandbox.razorpay)
    yield client
    client.session.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=20) as client:
        yield client


@pytest.fixture
def rzp_auth(settings) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    return (settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET)


class SandboxClient:
    """HTTP to the sandbox server with the calling conventions of Django's test client (path, data, content_type,
    HTTP_* headers), so each test reads as a request and its answer. Answers are httpx responses."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(timeout=20)

    @staticmethod
    def _headers(extra: dict[str, Any]) -> dict[str, str]:
        return {
            key[5:].replace("_", "-").title(): str(value) for key, value in extra.items() if key.startswith("HTTP_")
        }

    def get(self, path: str, data: dict[str, Any] | None = None, **extra: Any) -> httpx.Response:
        return self.http.get(f"{self.base}{path}", params=data, headers=self._headers(extra))

    def delete(self, path: str, **extra: Any) -> httpx.Response:
        return self.http.delete(f"{self.base}{path}", headers=self._headers(extra))

    def post(self, path: str, data: Any = None, content_type: str = "application/json", **extra: Any) -> httpx.Response:
        headers = {"Content-Type": content_type, **self._headers(extra)}
        if isinstance(data, (dict, list)) and content_type == "application/json":
            content = json.dumps(data).encode()
        else:
            content = (data or "").encode() if isinstance(data, str) else data or b""
        return self.http.post(f"{self.base}{path}", content=content, headers=headers)

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[SandboxClient]:
    """Shadows pytest-django's `client`: requests go to the sandbox server over HTTP."""
    sandbox_client = SandboxClient(sandbox.url)
    yield sandbox_client
    sandbox_client.close()
