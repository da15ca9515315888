"""Fixtures for the sandbox tests: a recording webhook receiver (a real HTTP server standing in for payfirst's
webhook endpoints), the sandbox on a live server with settings pointed at it, and a queue drain."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import razorpay

from payfirst.ops.tasks import run_queued_tasks


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

    def events(self) -> list[str]:
        return [item.event for item in self.received]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
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


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    recorder = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recorder))
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield recorder
    if recorder.hold is not None:
        recorder.hold.set()
    server.shutdown()
    server.server_close()


@dataclass(frozen=True)
class Sandbox:
    url: str  # the live server's root

    @property
    def razorpay(self) -> str:
        return f"{self.url}/sandbox/razorpay"

    @property
    def phonepe(self) -> str:
        return f"{self.url}/sandbox/phonepe"


@pytest.fixture
def sandbox(live_server, receiver, settings) -> Sandbox:
    """The sandbox served over real HTTP, its webhooks going to `receiver`, refunds settling on the next drain."""
    settings.RAZORPAY_API_BASE = f"{live_server.url}/sandbox/razorpay"
    settings.PHONEPE_API_BASE = f"{live_server.url}/sandbox/phonepe"
    settings.PHONEPE_OAUTH_BASE = f"{live_server.url}/sandbox/phonepe"
    settings.PAYFIRST_PUBLIC_BASE_URL = receiver.url
    settings.SANDBOX_REFUND_SETTLE_SECONDS = 0
    settings.SANDBOX_WEBHOOK_RETRY_BASE_SECONDS = 0
    return Sandbox(url=live_server.url)


@pytest.fixture
def rzp(sandbox, settings) -> Iterator[razorpay.Client]:
    """The official Razorpay SDK pointed at the sandbox. Its keep-alive session is closed afterwards, so no server
    thread outlives the test."""
    client = razorpay.Client(auth=(settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET), base_url=sandbox.razorpay)
    yield client
    client.session.close()


@pytest.fixture
def quick_settle(settings) -> None:
    """Refunds settle and webhook retries are due at once, for tests that run without a live server."""
    settings.SANDBOX_REFUND_SETTLE_SECONDS = 0
    settings.SANDBOX_WEBHOOK_RETRY_BASE_SECONDS = 0


@pytest.fixture
def drain():
    """Run every ready task (webhook deliveries, refund steps) in this process, as the worker would."""
    return run_queued_tasks
