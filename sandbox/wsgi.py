"""WSGI entry of the sandbox server."""

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "sandbox.settings"  # never the app's settings
application = get_wsgi_application()
