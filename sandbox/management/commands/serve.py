"""`python -m sandbox serve [--port N]`: migrate the sandbox's own database, then run its gunicorn (one process, many
threads, the delivery loop inside) on SANDBOX_PORT. gunicorn replaces this process, so a signal reaches it directly."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Migrate the sandbox database and serve the sandbox on SANDBOX_PORT."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--port", type=int, default=None, help="default: SANDBOX_PORT (PORT + 1)")
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        database = settings.DATABASES["default"]
        if database["ENGINE"] == "django.db.backends.sqlite3":
            Path(database["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        port = options["port"] or settings.SANDBOX_PORT
        config = Path(__file__).resolve().parents[2] / "gunicorn.py"
        gunicorn = Path(sys.executable).with_name("gunicorn")
        os.environ["SANDBOX_PORT"] = str(port)
        argv = [str(gunicorn), "sandbox.wsgi", "-c", str(config), "--bind", f"{options['host']}:{port}"]
        os.execv(argv[0], argv)
