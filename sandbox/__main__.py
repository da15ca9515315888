"""`python -m sandbox <command>`: Django's manage.py for the sandbox project (serve, migrate, deliveries, ...)."""

import os
import sys

from django.core.management import execute_from_command_line

if __name__ == "__main__":
    # The sandbox is its own program: the app's DJANGO_SETTINGS_MODULE, if set in this environment, is not its own.
    os.environ["DJANGO_SETTINGS_MODULE"] = "sandbox.settings"
    execute_from_command_line([f"{sys.executable} -m sandbox", *sys.argv[1:]])
