"""How the delivery threads learn that work is ready: code that writes a delivery or a job calls `wake_on_commit`,
and an idle thread sleeping in `sleep` wakes once that transaction commits instead of at its next due time."""

from __future__ import annotations

import threading

from django.db import transaction

_wakeups = threading.Condition()
_generation = 0  # counts wake-ups, so a thread that looked for work just before one does not sleep through it


def generation() -> int:
    """Read before looking for work; `sleep` is passed it back."""
    return _generation


def wake(count: int = 1) -> None:
    """Work is ready now: wake up to `count` sleeping threads."""
    global _generation
    with _wakeups:
        _generation += 1
        _wakeups.notify(count)


def wake_on_commit(count: int = 1) -> None:
    """Call where deliveries or jobs are written: once the transaction commits, `count` threads start on them."""
    transaction.on_commit(lambda: wake(count))


def sleep(seen: int, seconds: float) -> None:
    """Sleep up to `seconds`, or not at all when a wake-up came since `generation()` returned `seen`."""
    with _wakeups:
        if _generation == seen:
            _wakeups.wait(seconds)
