"""Fixtures for the operations tests: the JSON log lines the configured console handler writes."""

from __future__ import annotations

import io
import json
import logging

import pytest

from payfirst.core.logging import RequestIdFilter


class LogLines:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def all(self) -> list[dict]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line.strip()]


@pytest.fixture
def json_log():
    """Point the console handler from settings.LOGGING (its JSON formatter and request-id filter) at a buffer."""
    handler = next(
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler) and any(isinstance(f, RequestIdFilter) for f in h.filters)
    )
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield LogLines(stream)
    finally:
        handler.setStream(previous)
