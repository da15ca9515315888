"""gunicorn settings for payfirst's web processes (`gunicorn config.wsgi -c config/gunicorn.py`): JSON logs in the
app's format, no separate access log (the app writes one JSON line per request), Prometheus multi-process cleanup."""

import os
from typing import Any

from gunicorn.glogging import Logger
from prometheus_client import multiprocess

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
accesslog = None  # payfirst.access logs each request as JSON, with its request id, route, status and duration


class AppLogsAccess(Logger):
    """gunicorn's logger without its access line. With `logconfig_dict` set, gunicorn builds every request's access
    fields even when no access log is configured, then drops the line: about 5 % of a web process's CPU on a small
    read. payfirst.access writes the access line."""

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        return


logger_class = AppLogsAccess

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "payfirst.core.logging.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "payfirst.core.logging.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
        }
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id"],
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"level": "INFO", "handlers": ["stderr"]},
    "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False}},
}


def child_exit(server, worker) -> None:  # gunicorn calls this in the master when a worker exits
    # A dead worker's live gauges must leave the sums that /metrics reports across processes.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
