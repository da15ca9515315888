"""Test doubles for the outside world only: a scripted local HTTP server speaking recorded gateway payloads, a server
that accepts connections and never answers, and the recorded fixtures themselves."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from payfirst.gateways.phonepe.sdk import TOKENS

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> dict[str, Any]:
    return json.loads(fixture_bytes(name))


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode())


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json"


@dataclass
class StubServer:
    """Answers (method, path) with scripted replies in order (the last one repeats) and records every request."""

    url: str = ""
    routes: dict[tuple[str, str], list[Reply]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)

    def add(
        self,
        method: str,
        path: str,
        *,
        status: int = 200,
        json_body: Any = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> None:
        body = raw if raw is not None else json.dumps({} if json_body is None else json_body).encode()
        self.routes.setdefault((method, path), []).append(Reply(status, body, content_type))

    def reply_for(self, method: str, path: str) -> Reply:
        replies = self.routes.get((method, path))
        if not replies:
            return Reply(404, json.dumps({"error": {"code": "BAD_REQUEST_ERROR", "description": "no stub"}}).encode())
        return replies.pop(0) if len(replies) > 1 else replies[0]

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]


@pytest.fixture
def stub_server() -> Iterator[StubServer]:
    stub = StubServer()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            stub.requests.append(
                Recorded(self.command, parts.path, parse_qs(parts.query), {k: v for k, v in self.headers.items()}, body)
            )
            reply = stub.reply_for(self.command, parts.path)
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = do_PATCH = _handle

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server that accepts every connection and never sends a byte: the worst kind of gateway outage."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        listener.close()


@pytest.fixture(autouse=True)
def fresh_phonepe_tokens() -> Iterator[None]:
    """Each test starts with no cached PhonePe token (the cache is process-wide by design)."""
    TOKENS.clear()
    yield
    TOKENS.clear()
