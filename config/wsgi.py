"""WSGI entry point (gunicorn config.wsgi). An unsafe configuration (payfirst.core.checks) stops it from loading, so
gunicorn's workers fail to boot and gunicorn exits rather than serve."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

from payfirst.core.checks import refuse_unsafe_configuration  # noqa: E402 - needs the app registry set up above

refuse_unsafe_configuration()
