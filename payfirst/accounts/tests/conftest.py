"""Accounts test fixtures. Throttle counters live in the cache, so each test starts with an empty one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_throttle_counters() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()
