"""django-tasks-db's worker loop and run_task, with a claim of our own: one statement on PostgreSQL
(payfirst/ops/locks.py), django-tasks-db's claim (SELECT ... FOR UPDATE SKIP LOCKED, then mark RUNNING) elsewhere."""

from __future__ import annotations

import logging
import random
import time

from django.db import InterfaceError, OperationalError, close_old_connections, connection, connections
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from payfirst.core.logging import task_id_var
from payfirst.ops.locks import claim_next_task

logger = logging.getLogger("payfirst.ops")

# Seconds between the worker's attempts to reach a database that went away (a restart, a fail-over).
RECONNECT_PAUSE = 1.0


class TaskWorker(Worker):
    """The db_worker loop, with each task's log lines tagged by its task id, surviving a database that goes away,
    and a way to drain in-process."""

    def run(self) -> None:
        """db_worker's loop, started again after a lost database connection instead of exiting.

        db_worker re-raises any OperationalError other than SQLite's "database is locked", so a PostgreSQL restart
        ended the worker process for good. Here the broken connections are dropped and the loop starts again after
        RECONNECT_PAUSE; a task that was running when the connection broke stays RUNNING until
        `fail_abandoned_tasks` marks it, as for a killed worker.
        """
        while self.running:
            try:
                self._loop()
                return
            except (OperationalError, InterfaceError) as error:
                logger.warning("worker lost the database (%s); trying again in %ss", error, RECONNECT_PAUSE)
                for alias in connections:
                    try:
                        connections[alias].close()
                    except (OperationalError, InterfaceError):
                        pass  # closing a dead connection fails; Django forgets it all the same (close's finally)
                deadline = time.monotonic() + RECONNECT_PAUSE
                while self.running and time.monotonic() < deadline:
                    time.sleep(0.05)

    def _loop(self) -> None:
        """db_worker's loop (`Worker.run`): claim and run tasks while any is ready, then wait `interval` before
        looking again; with `batch`, stop at the first look that finds none; stop after `max_tasks`."""
        logger.info("Starting worker worker_id=%s queues=%s", self.worker_id, ",".join(self.queue_names))
        if self.startup_delay and self.interval:
            time.sleep(random.random())  # noqa: S311 - spreads workers started together; not a secret
        while self.running:
            close_old_connections()
            try:
                task_result = self.claim_next()
            except OperationalError as error:
                if not is_locked_database_exception(error):  # SQLite's "database is locked" passes; look again
                    raise
                task_result, looked = None, False
            else:
                looked = True
            if task_result is not None:
                self.run_task(task_result)
            elif self.batch and looked:
                logger.info("No more tasks to run for worker_id=%s - exiting gracefully.", self.worker_id)
                return
            if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
                logger.info("Ran the maximum of %d tasks on worker=%s - exiting.", self._run_tasks, self.worker_id)
                return
            if self.running and task_result is None:
                close_old_connections()
                time.sleep(self.interval)

    def run_task(self, db_task_result: DBTaskResult) -> None:
        token = task_id_var.set(str(db_task_result.id))
        try:
            super().run_task(db_task_result)
        finally:
            task_id_var.reset(token)

    def claim_next(self) -> DBTaskResult | None:
        """Claim the next ready task (highest priority, then the earliest due, then the earliest queued), marking it
        RUNNING for this worker; None when nothing is ready. One statement on PostgreSQL; django-tasks-db's own
        claim elsewhere."""
        if connection.vendor == "postgresql":
            return claim_next_task(
                worker_id=self.worker_id,
                backend_name=self.backend_name,
                queue_names=None if self.process_all_queues else self.queue_names,
                excluded_queue_names=self.excluded_queue_names,
            )
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        if self.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=self.excluded_queue_names)
        with exclusive_transaction(tasks.db):
            task_result = tasks.get_locked()
            if task_result is not None:
                task_result.claim(self.worker_id)
        return task_result

    def drain(self, *, max_tasks: int) -> int:
        """Run ready tasks until none is ready or `max_tasks` ran; returns how many ran.

        Unlike `Worker.run` this never closes connections between tasks, so it can run inside a test's transaction.
        """
        ran = 0
        while ran < max_tasks:
            task_result = self.claim_next()
            if task_result is None:
                break
            self.run_task(task_result)
            ran += 1
        return ran
