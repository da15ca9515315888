"""Settings for the test suite: the demo defaults (sandbox gateways, insecure key) with fast password hashing."""

import os

os.environ.setdefault("PAYFIRST_DEMO", "1")
os.environ.setdefault("PAYFIRST_GATEWAYS", "sandbox")

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "webhooks", "periodic"],
    }
}
