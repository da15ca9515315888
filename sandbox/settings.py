"""Settings of the sandbox server (`python -m sandbox serve`): its own database, its own port, the gateways' test
credentials (the same environment variables and defaults payfirst reads in sandbox mode, so both agree), and where
its webhooks and callbacks go."""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("PAYFIRST_DATA_DIR", BASE_DIR / "data"))

DEBUG = os.environ.get("SANDBOX_DEBUG", "").lower() in {"1", "true", "yes"}
# The sandbox holds no secret worth protecting: it is a test double that only ever runs on a developer's machine.
SECRET_KEY = os.environ.get("SANDBOX_SECRET_KEY", "insecure-payfirst-sandbox-key")
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver", *filter(None, os.environ.get("SANDBOX_HOSTS", "").split(","))]

PORT = int(os.environ.get("PORT", "8000"))
SANDBOX_PORT = int(os.environ.get("SANDBOX_PORT", str(PORT + 1)))
SANDBOX_PUBLIC_BASE_URL = os.environ.get("SANDBOX_PUBLIC_BASE_URL", f"http://127.0.0.1:{SANDBOX_PORT}").rstrip("/")
# Where the merchant (payfirst) listens: Razorpay's webhook URL and PhonePe's callback URL, as set in a dashboard.
_APP = os.environ.get("PAYFIRST_PUBLIC_BASE_URL", f"http://127.0.0.1:{PORT}").rstrip("/")
SANDBOX_WEBHOOK_URL_RAZORPAY = os.environ.get("SANDBOX_WEBHOOK_URL_RAZORPAY", f"{_APP}/api/payments/webhook/razorpay/")
SANDBOX_WEBHOOK_URL_PHONEPE = os.environ.get("SANDBOX_WEBHOOK_URL_PHONEPE", f"{_APP}/api/payments/webhook/phonepe/")
# Pages the customer may be sent back to (callback_url, redirectUrl): these origins only.
SANDBOX_RETURN_ORIGINS = [
    _APP,
    os.environ.get("FRONTEND_BASE_URL", "http://localhost:3000"),
    *filter(None, os.environ.get("CORS_ALLOWED_ORIGINS", "").split(",")),
]
SANDBOX_MERCHANT_NAME = os.environ.get("PAYFIRST_MERCHANT_NAME", "payfirst demo store")

RAZORPAY_KEY_ID = os.environ.get("RAZORPAY_KEY_ID", "rzp_test_sandboxkey0001")
RAZORPAY_KEY_SECRET = os.environ.get("RAZORPAY_KEY_SECRET", "sandbox_key_secret")
RAZORPAY_WEBHOOK_SECRET = os.environ.get("RAZORPAY_WEBHOOK_SECRET", "sandbox_webhook_secret")
PHONEPE_CLIENT_ID = os.environ.get("PHONEPE_CLIENT_ID", "SANDBOXCLIENT")
PHONEPE_CLIENT_SECRET = os.environ.get("PHONEPE_CLIENT_SECRET", "sandbox-client-secret")
PHONEPE_CLIENT_VERSION = int(os.environ.get("PHONEPE_CLIENT_VERSION", "1"))
PHONEPE_WEBHOOK_USERNAME = os.environ.get("PHONEPE_WEBHOOK_USERNAME", "sandboxuser")
PHONEPE_WEBHOOK_PASSWORD = os.environ.get("PHONEPE_WEBHOOK_PASSWORD", "sandboxpass123")

# Time: every wait the sandbox imitates (webhook retries over 24 hours, the auto-refund window, refund settlement,
# late authorisation) is divided by SANDBOX_TIME_SCALE, so tests and demos can live through a day in seconds.
SANDBOX_TIME_SCALE = float(os.environ.get("SANDBOX_TIME_SCALE", "1"))
SANDBOX_REFUND_SETTLE_SECONDS = float(os.environ.get("SANDBOX_REFUND_SETTLE_SECONDS", "5"))
# Razorpay auto-refunds an authorised payment that is not captured in time (the window is set per account).
SANDBOX_AUTO_REFUND_SECONDS = float(os.environ.get("SANDBOX_AUTO_REFUND_SECONDS", str(3 * 24 * 3600)))
SANDBOX_LATE_AUTH_SECONDS = float(os.environ.get("SANDBOX_LATE_AUTH_SECONDS", "120"))
# How long an issued PhonePe O-Bearer token lives (PhonePe's tokens last about an hour; not scaled).
SANDBOX_PHONEPE_TOKEN_SECONDS = int(os.environ.get("SANDBOX_PHONEPE_TOKEN_SECONDS", "3600"))
SANDBOX_WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("SANDBOX_WEBHOOK_TIMEOUT_SECONDS", "5"))
# How long an api_timeout fault holds its answer (past the merchant's own client timeout).
SANDBOX_HOLD_SECONDS = float(os.environ.get("SANDBOX_HOLD_SECONDS", "11"))
# A delivery thread's claim on a webhook or job lasts this long (real seconds); a claim whose process died runs out
# and the work is done again. 0: the webhook time-out plus 25 s.
SANDBOX_LEASE_SECONDS = float(os.environ.get("SANDBOX_LEASE_SECONDS", "0"))
# Threads delivering webhooks and running due jobs inside the server process.
SANDBOX_DELIVERY_THREADS = int(os.environ.get("SANDBOX_DELIVERY_THREADS", "8"))

INSTALLED_APPS = ["django.contrib.contenttypes", "rest_framework", "drf_spectacular", "sandbox"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "sandbox.urls"
WSGI_APPLICATION = "sandbox.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

SANDBOX_DATABASE_URL = os.environ.get("SANDBOX_DATABASE_URL", f"sqlite:///{DATA_DIR / 'sandbox.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(SANDBOX_DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Many request threads and the delivery threads write at once: writers queue instead of failing. Each thread
    # keeps its connection (CONN_MAX_AGE above): opening one runs the PRAGMAs and registers Django's SQL functions.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "Asia/Kolkata"
LANGUAGE_CODE = "en-in"
USE_I18N = False

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "sandbox.control.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "payfirst gateway sandbox",
    "DESCRIPTION": "Razorpay and PhonePe imitations, faults and the control panel of the local gateway sandbox.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {"SandboxGatewayEnum": ["razorpay", "phonepe"]},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s sandbox %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("SANDBOX_LOG_LEVEL", "WARNING")},
}
