"""pytest fixtures around the sandbox server, registered by the root conftest.py: `sandbox_server` (one per test
session, webhooks to the app's live_server) and `sandbox` (that server for one test: faults cleared, the app's
gateway settings pointed at it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from payfirst.testing.sandbox_server import SandboxServer, start_sandbox


@pytest.fixture(scope="session")
def sandbox_server(live_server) -> Iterator[SandboxServer]:
    server = start_sandbox(webhook_base=live_server.url)
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer, settings) -> Iterator[SandboxServer]:
    """The session's sandbox, kind again, with the app's adapters pointed at it. Teardown waits until it has sent
    what is due, so no webhook of this test lands in the next one."""
    sandbox_server.reset()
    settings.PAYFIRST_GATEWAYS = "sandbox"
    settings.SANDBOX_BASE_URL = sandbox_server.url
    settings.RAZORPAY_API_BASE = sandbox_server.razorpay
    settings.PHONEPE_API_BASE = sandbox_server.phonepe
    settings.PHONEPE_OAUTH_BASE = sandbox_server.phonepe
    yield sandbox_server
    sandbox_server.wait_idle()
