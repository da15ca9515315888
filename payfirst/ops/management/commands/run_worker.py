"""`manage.py run_worker`: django-tasks-db's worker loop over every queue, plus the periodic scheduler."""

from __future__ import annotations

import logging
import os
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks_db.management.commands import db_worker

from payfirst.ops.scheduler import SchedulerThread, discover_periodic_tasks
from payfirst.ops.worker import TaskWorker

IDLE_INTERVAL = 0.2  # seconds between an idle worker's looks for ready tasks

logger = logging.getLogger("payfirst.ops")


class Command(db_worker.Command):
    help = (
        "Run the background worker: db_worker's loop (all queues unless --queue-name says otherwise) and the "
        "periodic scheduler. SIGTERM or SIGINT finish the running task, then exit."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        # An idle worker looks for work five times a second (db_worker's default is once a second), so a webhook that
        # arrives at a quiet moment waits at most 0.2 s to be processed. On PostgreSQL each look is one statement.
        parser.set_defaults(queue_name="*", interval=IDLE_INTERVAL)
        parser.add_argument(
            "--scheduler-interval",
            type=db_worker.valid_interval,
            default=5.0,
            help="Seconds between periodic-scheduler ticks (default: %(default)r)",
        )
        parser.add_argument(
            "--no-scheduler",
            action="store_false",
            dest="scheduler",
            help="Run tasks only; leave periodic tasks to other workers.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.configure_logging(options["verbosity"])
        if options["reload"] and options["batch"]:
            logger.warning("--reload and --batch cannot be used together; reloading is off.")
            options["reload"] = False
        queue_names = options["queue_name"].split(",")
        excluded = options["exclude_queues"].split(",") if options["exclude_queues"] else []
        if excluded and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")

        worker = TaskWorker(
            queue_names=queue_names,
            interval=options["interval"],
            batch=options["batch"],
            backend_name=options["backend_name"],
            startup_delay=options["startup_delay"],
            max_tasks=options["max_tasks"],
            worker_id=options["worker_id"],
            excluded_queue_names=excluded,
        )
        scheduler_interval = options["scheduler_interval"] if options["scheduler"] else None

        if options["reload"]:
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
                worker.configure_signals()  # only the reloaded child handles signals
            run_with_reloader(run, worker=worker, scheduler_interval=scheduler_interval)
        else:
            worker.configure_signals()
            run(worker=worker, scheduler_interval=scheduler_interval)


def run(*, worker: TaskWorker, scheduler_interval: float | None) -> None:
    """Run the worker loop with the scheduler beside it; stop the scheduler however the loop ends (batch, max tasks,
    or a signal, whose handler exits through SystemExit)."""
    scheduler = None
    if scheduler_interval is not None:
        names = discover_periodic_tasks()
        logger.info("Periodic scheduler every %ss for %s", scheduler_interval, ", ".join(names) or "no tasks")
        scheduler = SchedulerThread(interval=scheduler_interval)
        scheduler.tick()  # what is due now is enqueued before the first poll, so --batch runs it too
        scheduler.start()
    try:
        worker.run()
    finally:
        if scheduler is not None:
            scheduler.stop()
            scheduler.join(timeout=30)
