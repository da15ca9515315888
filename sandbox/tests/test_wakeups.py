"""The delivery threads' wake-ups (sandbox/wakeups.py): an idle thread sleeps until woken, a wake-up that came while
it was looking for work is not lost, and work written in a transaction wakes the threads only once it commits."""

from __future__ import annotations

import threading

import pytest
from django.db import transaction

from sandbox import wakeups

# Far longer than any of these tests takes: a thread still asleep after JOIN_SECONDS was never woken.
LONG_SLEEP = 60.0
JOIN_SECONDS = 10.0


def _sleeper(seen: int) -> threading.Thread:
    thread = threading.Thread(target=wakeups.sleep, args=(seen, LONG_SLEEP), daemon=True)
    thread.start()
    return thread


def test_a_sleeping_thread_wakes_when_work_is_ready() -> None:
    thread = _sleeper(wakeups.generation())
    thread.join(0.2)  # asleep by now
    assert thread.is_alive()
    wakeups.wake()
    thread.join(JOIN_SECONDS)
    assert not thread.is_alive()


def test_a_wake_up_while_the_thread_looked_for_work_is_not_lost() -> None:
    seen = wakeups.generation()
    wakeups.wake()  # work committed after the thread looked, before it went to sleep
    thread = _sleeper(seen)
    thread.join(JOIN_SECONDS)
    assert not thread.is_alive()


@pytest.mark.django_db
def test_work_written_in_a_transaction_wakes_the_threads_when_it_commits(
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    before = wakeups.generation()
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            wakeups.wake_on_commit(3)
            assert wakeups.generation() == before
    assert wakeups.generation() == before + 1


@pytest.mark.django_db
def test_work_rolled_back_wakes_nobody(django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    before = wakeups.generation()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            wakeups.wake_on_commit()
            raise RuntimeError("the write failed")
    assert wakeups.generation() == before
