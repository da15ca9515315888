"""payfirst settings: one module, every value from the environment, safe defaults when DEBUG is off."""

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("PAYFIRST_DATA_DIR", BASE_DIR / "data"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# PAYFIRST_DEMO marks a local demo or test run (set by `make run` and the test suite).
DEMO = env_bool("PAYFIRST_DEMO", False)

# The demo's and tests' published key: a system check refuses it outside the demo (payfirst.core.checks).
DEMO_SECRET_KEY = "insecure-payfirst-development-key-never-use-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not (DEBUG or DEMO):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = DEMO_SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver" if (DEBUG or DEMO) else "")

INSTALLED_APPS = [
    "payfirst.core.admin_apps.PayfirstAdminConfig",  # django.contrib.admin, with payfirst's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served by us: /api/docs/ works without a CDN
    "corsheaders",
    "django_tasks",
    "django_tasks_db",
    "payfirst.core",
    "payfirst.accounts",
    "payfirst.catalog",
    "payfirst.cart",
    "payfirst.payments",
    "payfirst.fulfilment",
    "payfirst.invoices",
    "payfirst.gateways",
    "payfirst.ops",
    "payfirst.notifications",
    "payfirst.dashboard",
    "payfirst.storefront",
]

MIDDLEWARE = [
    "payfirst.core.middleware.RequestIdMiddleware",
    "payfirst.core.metrics.MetricsMiddleware",
    "payfirst.core.guards.RequestGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: SQLite in the data folder by default; PostgreSQL (psycopg 3) through DATABASE_URL.
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{DATA_DIR / 'payfirst.sqlite3'}")
DATABASES: dict[str, dict[str, Any]] = {
    "default": dict(dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True))
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL, a busy timeout and IMMEDIATE transactions let the web server and the worker write at once:
    # writers queue instead of failing with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("PAYFIRST_SQLITE_TEST_NAME") or None}
else:
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend with a health check that asks the socket, not the server, and prepared statements for the
        # hot reads (payfirst/core/postgresql).
        DATABASES["default"]["ENGINE"] = "payfirst.core.postgresql"
        # Statements are bound on the server and prepared there once a connection has run them PG_PREPARE_THRESHOLD
        # times (the hot reads at once), so PostgreSQL plans them once per connection. PG_PREPARED_STATEMENTS=0 behind
        # a pooler that cannot carry prepared statements: client-side binding, nothing prepared.
        prepared = os.environ.get("PG_PREPARED_STATEMENTS", "1") != "0"
        DATABASES["default"]["PREPARED_STATEMENTS"] = prepared
        if prepared:
            DATABASES["default"].setdefault("OPTIONS", {}).update(
                {"server_side_binding": True, "prepare_threshold": int(os.environ.get("PG_PREPARE_THRESHOLD", "5"))}
            )
    test_name = os.environ.get("PAYFIRST_TEST_DB_NAME")
    if test_name:
        DATABASES["default"]["TEST"] = {"NAME": test_name}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-in"
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Kolkata")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serves app static files (admin, API docs) without a collectstatic step
WHITENOISE_AUTOREFRESH = DEBUG or DEMO

# Security: production-safe when DEBUG is off.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
_SECURE = not (DEBUG or DEMO)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", _SECURE)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", _SECURE)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _SECURE)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000" if _SECURE else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _SECURE
# Only lets the site be submitted to the browsers' preload list (nothing is submitted by this header alone).
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", _SECURE)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
CSRF_FAILURE_VIEW = "payfirst.core.api.csrf_failure_view"

CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_EXPOSE_HEADERS = ["X-Request-ID", "Retry-After"]
# The storefront opens the payment page (Razorpay Checkout, or the sandbox's page standing in for it) in a pop-up and
# hears back from it: keep the opener link for pop-ups this origin opens.
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin-allow-popups"

# Email (notifications, password reset): EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587 (the SMTP
# timeout is 10 s unless ?timeout= says otherwise). Without it: the demo writes each message as a file under
# data/emails/, anything else prints it to the console.
from payfirst.core.mail import parse_email_url  # noqa: E402

EMAIL_URL = os.environ.get("EMAIL_URL", "")
globals().update(parse_email_url(EMAIL_URL or (f"file://{DATA_DIR / 'emails'}" if DEMO else "console://")))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "payfirst <no-reply@payfirst.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
PASSWORD_RESET_TIMEOUT = int(os.environ.get("PASSWORD_RESET_TIMEOUT", str(60 * 60)))  # seconds a reset link works

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["payfirst.accounts.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["payfirst.core.rendering.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "payfirst.core.rendering.ContentNegotiation",
    "DEFAULT_PARSER_CLASSES": ["payfirst.core.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "payfirst.core.api.PagePagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "payfirst.core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "payfirst.core.api.exception_handler",
    # Rates as "N/second|minute|hour|day" (or "off"), counted in the shared cache (CACHES["default"]) so every web
    # process sees the same counters. docs/reliability.md lists who is counted how.
    "DEFAULT_THROTTLE_RATES": {
        "register": os.environ.get("THROTTLE_REGISTER", "10/hour"),
        "token": os.environ.get("THROTTLE_TOKEN", "20/minute"),
        "sign_in_account": os.environ.get("THROTTLE_SIGN_IN_ACCOUNT", "10/minute"),
        "admin_login": os.environ.get("THROTTLE_ADMIN_LOGIN", "10/minute"),
        "check_email": os.environ.get("THROTTLE_CHECK_EMAIL", "30/minute"),
        # Per source, counting only deliveries that fail verification (payments/apis.py, _WebhookApi).
        "webhooks": os.environ.get("THROTTLE_WEBHOOKS", "60/minute"),
        "password_reset": os.environ.get("THROTTLE_PASSWORD_RESET", "5/hour"),
        "password_reset_confirm": os.environ.get("THROTTLE_PASSWORD_RESET_CONFIRM", "20/hour"),
        "payments_create": os.environ.get("THROTTLE_PAYMENTS_CREATE", "20/minute"),
        "payments_confirm": os.environ.get("THROTTLE_PAYMENTS_CONFIRM", "30/minute"),
        "payments_cancel": os.environ.get("THROTTLE_PAYMENTS_CANCEL", "20/minute"),
        "refunds": os.environ.get("THROTTLE_REFUNDS", "30/minute"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Proxies in front of the app that append to X-Forwarded-For. 0 (the default) trusts only the socket's address,
    # so a client cannot dodge throttling by sending its own X-Forwarded-For.
    "NUM_PROXIES": int(os.environ.get("NUM_PROXIES", "0")),
}

SIMPLE_JWT: dict[str, Any] = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=int(os.environ.get("JWT_ACCESS_MINUTES", "30"))),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=int(os.environ.get("JWT_REFRESH_DAYS", "7"))),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "payfirst API",
    "DESCRIPTION": "Payment-first checkout: cart to a paid order, booking or subscription via Razorpay or PhonePe.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets shared by several components get one stable name (without this drf-spectacular invents hashed
    # names such as Code3e9Enum, and warns, which `check --deploy` would report).
    "ENUM_NAME_OVERRIDES": {
        "NotFoundCodeEnum": ["not_found"],
        "NotAuthenticatedCodeEnum": ["not_authenticated", "authentication_failed"],
        "GatewayErrorCodeEnum": ["gateway_error"],
        "IdempotencyKeyReusedCodeEnum": ["idempotency_key_reused"],
        "InvalidStateCodeEnum": ["invalid_state"],
        "InvalidSignatureCodeEnum": ["invalid_signature"],
        "ThrottledCodeEnum": ["throttled"],
        "CheckoutInvalidCodeEnum": [
            "invalid_input",
            "cart_empty",
            "shipping_address_required",
            "invalid_redirect_url",
            "amount_not_payable",
            "invalid_promo_code",
            "malformed_request",
        ],
        "PaymentOutcomeEnum": ["success", "pending", "failed"],
        "GatewayEnum": ["razorpay", "phonepe"],
    },
}

# The cache holds the throttle counters, so it must be shared by every web process: by default a table in the
# database (created by `manage.py createcachetable`, which `make run` runs after migrate), Redis when CACHE_URL is set.
CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES: dict[str, dict[str, Any]]
if CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "payfirst.core.cache.DatabaseCache",
            "LOCATION": "payfirst_cache",
            "OPTIONS": {"MAX_ENTRIES": int(os.environ.get("CACHE_MAX_ENTRIES", "50000"))},
        }
    }

# Request limits (docs/reliability.md): bodies are refused on Content-Length before they are read (413).
API_MAX_BODY_BYTES = int(os.environ.get("API_MAX_BODY_BYTES", str(64 * 1024)))
WEBHOOK_MAX_BODY_BYTES = int(os.environ.get("WEBHOOK_MAX_BODY_BYTES", str(256 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", str(2_621_440)))  # admin forms
API_MAX_JSON_DEPTH = int(os.environ.get("API_MAX_JSON_DEPTH", "32"))
MAX_QUERY_STRING_BYTES = int(os.environ.get("MAX_QUERY_STRING_BYTES", "4096"))

# /metrics: open only in the demo, or to the CIDRs in METRICS_ALLOW_FROM, or with `Authorization: Bearer
# METRICS_TOKEN`. METRICS_PUBLIC=1 opens it on purpose (for a network that already restricts it).
METRICS_ALLOW_FROM = env_list("METRICS_ALLOW_FROM")
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_PUBLIC = env_bool("METRICS_PUBLIC", False)

# Background work: the standard Django tasks API on a database-backed queue.
TASKS = {
    "default": {
        "BACKEND": os.environ.get("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default", "webhooks", "periodic"],
    }
}
# A task RUNNING this long lost its worker: it is marked FAILED. Finished results are deleted after these many days.
TASK_ABANDONED_AFTER_MINUTES = int(os.environ.get("TASK_ABANDONED_AFTER_MINUTES", "60"))
TASK_RESULTS_KEEP_DAYS = int(os.environ.get("TASK_RESULTS_KEEP_DAYS", "14"))
TASK_FAILED_RESULTS_KEEP_DAYS = int(os.environ.get("TASK_FAILED_RESULTS_KEEP_DAYS", "30"))

# Payments and gateways.
PAYMENT_EXPIRY_MINUTES = int(os.environ.get("PAYMENT_EXPIRY_MINUTES", "15"))

# GST documents (payfirst/invoices): the seller printed on every tax invoice, bill of supply and credit note. The
# defaults are a demo shop with a well-formed GSTIN; a real shop sets its own (checked at start-up: format, check
# character, state code matching GST_SELLER_STATE).
GST_SELLER_LEGAL_NAME = os.environ.get("GST_SELLER_LEGAL_NAME", "Shubh Puja Stores Private Limited")
GST_SELLER_ADDRESS = os.environ.get("GST_SELLER_ADDRESS", "14 Chickpet Main Road, Bengaluru 560053")
GST_SELLER_STATE = os.environ.get("GST_SELLER_STATE", "Karnataka")
GST_SELLER_GSTIN = os.environ.get("GST_SELLER_GSTIN", "29AAKCS4821M1ZS")
# Basis points (1800 = 18 %) for a catalog item without a tax class.
GST_STANDARD_RATE = int(os.environ.get("GST_STANDARD_RATE", "1800"))
# Caps on what one customer may hold at once (0 turns a cap off): live (PENDING) payments, and places in one slot.
PAYMENTS_MAX_PENDING_PER_CUSTOMER = int(os.environ.get("PAYMENTS_MAX_PENDING_PER_CUSTOMER", "3"))
PAYMENTS_MAX_SLOT_HOLDS_PER_CUSTOMER = int(os.environ.get("PAYMENTS_MAX_SLOT_HOLDS_PER_CUSTOMER", "4"))
PAYFIRST_GATEWAYS = os.environ.get("PAYFIRST_GATEWAYS", "sandbox" if (DEBUG or DEMO) else "live")
if PAYFIRST_GATEWAYS not in {"sandbox", "live"}:
    raise ImproperlyConfigured("PAYFIRST_GATEWAYS must be 'sandbox' or 'live'.")
# The app's own public base URL (PhonePe's return page and Razorpay's callback_url live under it). Live mode has no
# default: it must be set, and https (payfirst.gateways.checks refuses to start otherwise).
PORT = int(os.environ.get("PORT", "8000"))
PAYFIRST_PUBLIC_BASE_URL = os.environ.get(
    "PAYFIRST_PUBLIC_BASE_URL", "" if PAYFIRST_GATEWAYS == "live" else f"http://127.0.0.1:{PORT}"
).rstrip("/")
# In sandbox mode the gateways are the sandbox server (`python -m sandbox serve`, started by `make run`), a separate
# process on its own port that payfirst reaches over HTTP only, exactly like a remote gateway.
SANDBOX_PORT = int(os.environ.get("SANDBOX_PORT", str(PORT + 1)))
SANDBOX_BASE_URL = os.environ.get("SANDBOX_BASE_URL", f"http://127.0.0.1:{SANDBOX_PORT}").rstrip("/")
# Where the customer's browser comes back after paying (return URLs must be under it, or an allowed origin). By default
# the storefront payfirst serves at `/`, so every return URL lands on a real page (/confirmbooking). Live mode has no
# default: it must be said (payfirst.gateways.checks refuses to start otherwise), even when it is this server.
FRONTEND_BASE_URL = os.environ.get("FRONTEND_BASE_URL", "" if PAYFIRST_GATEWAYS == "live" else PAYFIRST_PUBLIC_BASE_URL)
# Seed 002's return pages: where a PhonePe payment made without a redirect_url sends the browser back to.
PHONEPE_SUCCESS_REDIRECT_URL = os.environ.get(
    "PHONEPE_SUCCESS_REDIRECT_URL", f"{FRONTEND_BASE_URL.rstrip('/')}/confirmbooking/"
)
PHONEPE_FAILED_REDIRECT_URL = os.environ.get(
    "PHONEPE_FAILED_REDIRECT_URL", f"{FRONTEND_BASE_URL.rstrip('/')}/failedbooking/"
)
GATEWAY_TIMEOUT_SECONDS = float(os.environ.get("GATEWAY_TIMEOUT_SECONDS", "10"))
# Webhooks (docs/payments.md): intake answers at once; the worker processes, retrying a failure after
# BASE, 2*BASE, ... seconds (capped at MAX) up to MAX_ATTEMPTS tries, then raises an alarm. Deliveries that are done
# with are deleted after RETENTION_DAYS. A source (client address) that sent THROTTLE_WEBHOOKS deliveries failing
# verification gets 429 until the window ends; bodies over
# WEBHOOK_MAX_BODY_BYTES are refused (413) before they are read.
WEBHOOK_RETRY_BASE_SECONDS = int(os.environ.get("WEBHOOK_RETRY_BASE_SECONDS", "30"))
WEBHOOK_RETRY_MAX_SECONDS = int(os.environ.get("WEBHOOK_RETRY_MAX_SECONDS", "3600"))
WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("WEBHOOK_MAX_ATTEMPTS", "12"))
WEBHOOK_QUEUED_GRACE_SECONDS = int(os.environ.get("WEBHOOK_QUEUED_GRACE_SECONDS", "120"))
WEBHOOK_RETENTION_DAYS = int(os.environ.get("WEBHOOK_RETENTION_DAYS", "30"))
# Refunds the gateway could not answer are sent again with capped exponential backoff (first delay, doubling up to
# the cap); after REFUND_MAX_ATTEMPTS unanswered tries a refund the gateway never accepted is FAILED with an alarm.
REFUND_RETRY_FIRST_SECONDS = int(os.environ.get("REFUND_RETRY_FIRST_SECONDS", "30"))
REFUND_RETRY_MAX_SECONDS = int(os.environ.get("REFUND_RETRY_MAX_SECONDS", "3600"))
REFUND_MAX_ATTEMPTS = int(os.environ.get("REFUND_MAX_ATTEMPTS", "12"))
# The shop's name as Razorpay Checkout shows it to the customer.
PAYFIRST_MERCHANT_NAME = os.environ.get("PAYFIRST_MERCHANT_NAME", "payfirst demo store")

_SANDBOX = PAYFIRST_GATEWAYS == "sandbox"
RAZORPAY_KEY_ID = os.environ.get("RAZORPAY_KEY_ID", "rzp_test_sandboxkey0001" if _SANDBOX else "")
RAZORPAY_KEY_SECRET = os.environ.get("RAZORPAY_KEY_SECRET", "sandbox_key_secret" if _SANDBOX else "")
RAZORPAY_WEBHOOK_SECRET = os.environ.get("RAZORPAY_WEBHOOK_SECRET", "sandbox_webhook_secret" if _SANDBOX else "")
RAZORPAY_API_BASE = os.environ.get(
    "RAZORPAY_API_BASE", f"{SANDBOX_BASE_URL}/sandbox/razorpay" if _SANDBOX else "https://api.razorpay.com"
)
PHONEPE_CLIENT_ID = os.environ.get("PHONEPE_CLIENT_ID", "SANDBOXCLIENT" if _SANDBOX else "")
PHONEPE_CLIENT_SECRET = os.environ.get("PHONEPE_CLIENT_SECRET", "sandbox-client-secret" if _SANDBOX else "")
PHONEPE_CLIENT_VERSION = int(os.environ.get("PHONEPE_CLIENT_VERSION", "1"))
PHONEPE_ENV = os.environ.get("PHONEPE_ENV", "SANDBOX" if _SANDBOX else "PRODUCTION")
PHONEPE_WEBHOOK_USERNAME = os.environ.get("PHONEPE_WEBHOOK_USERNAME", "sandboxuser" if _SANDBOX else "")
PHONEPE_WEBHOOK_PASSWORD = os.environ.get("PHONEPE_WEBHOOK_PASSWORD", "sandboxpass123" if _SANDBOX else "")
_PHONEPE_HOSTS = {
    "SANDBOX": ("https://api-preprod.phonepe.com/apis/pg-sandbox", "https://api-preprod.phonepe.com/apis/pg-sandbox"),
    "PRODUCTION": ("https://api.phonepe.com/apis/pg", "https://api.phonepe.com/apis/identity-manager"),
}
if _SANDBOX:
    _pp_default = (f"{SANDBOX_BASE_URL}/sandbox/phonepe",) * 2
else:
    _pp_default = _PHONEPE_HOSTS.get(PHONEPE_ENV, _PHONEPE_HOSTS["PRODUCTION"])
PHONEPE_API_BASE = os.environ.get("PHONEPE_API_BASE", _pp_default[0])
PHONEPE_OAUTH_BASE = os.environ.get("PHONEPE_OAUTH_BASE", _pp_default[1])

SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
if SENTRY_DSN:
    from payfirst.core.logging import init_sentry

    init_sentry(
        dsn=SENTRY_DSN,
        environment=os.environ.get("SENTRY_ENVIRONMENT", "production"),
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0")),
    )

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "payfirst.core.logging.RequestIdFilter"}},
    "formatters": {
        "json": {
            # Time (UTC), level, logger, message, then request_id (or task_id in a task run) and any extras.
            "()": "payfirst.core.logging.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # WeasyPrint narrates every rendering step at INFO (and parses its stylesheet at import).
    "loggers": {"django.db.backends": {"level": "INFO"}, "weasyprint": {"level": "WARNING"}},
}
