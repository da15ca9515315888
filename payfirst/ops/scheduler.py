"""The periodic scheduler the worker runs beside its task loop: a thread that enqueues due periodic tasks."""

from __future__ import annotations

import logging
import threading

from django.db import DatabaseError, close_old_connections, connection
from django.utils.module_loading import autodiscover_modules

from payfirst.ops.tasks import enqueue_due_periodic_tasks, periodic_tasks

logger = logging.getLogger("payfirst.ops")


def discover_periodic_tasks() -> list[str]:
    """Import every installed app's `tasks` module so its @periodic declarations register; returns their names."""
    autodiscover_modules("tasks")
    return sorted(periodic_tasks())


class SchedulerThread(threading.Thread):
    """Ticks every `interval` seconds until stopped (call `tick()` once first to enqueue what is due at start).
    Any number of these may run at once: each due run is claimed in the database."""

    def __init__(self, *, interval: float) -> None:
        super().__init__(name="periodic-scheduler", daemon=True)
        self.interval = interval
        self._stop_requested = threading.Event()

    def stop(self) -> None:
        self._stop_requested.set()

    def run(self) -> None:
        try:
            while not self._stop_requested.wait(self.interval):
                self.tick()
        finally:
            connection.close()  # this thread's own connection

    def tick(self) -> None:
        close_old_connections()
        try:
            enqueue_due_periodic_tasks()
        except DatabaseError:
            # A busy or restarting database must not stop the scheduler; the next tick tries again.
            logger.exception("Periodic scheduler tick failed")
