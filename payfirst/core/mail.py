"""EMAIL_URL to Django's email settings, with the standard library's URL parser.

    smtp://user:password@host:25          SMTP, no encryption (a relay on the same network)
    smtp+tls://user:password@host:587     SMTP with STARTTLS (also: submission://, or smtp://…?tls=1)
    smtps://user:password@host:465        SMTP over TLS (also: smtp+ssl://, or smtp://…?ssl=1)
    file:///var/mail/payfirst             each message a file in that folder
    console://                            each message printed to standard output
    locmem://                             kept in memory (tests)

User and password are percent-decoded (a password with `@` or `/` is written %40, %2F). `?timeout=` sets the SMTP
timeout in seconds (default 10): a mail server that hangs never holds a worker longer.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
}
SMTP_SCHEMES = {"smtp": (False, False, 25), "smtp+tls": (True, False, 587), "submission": (True, False, 587)}
SMTP_SCHEMES |= {"smtps": (False, True, 465), "smtp+ssl": (False, True, 465)}
DEFAULT_TIMEOUT_SECONDS = 10.0


def _flag(query: dict[str, list[str]], name: str) -> bool:
    return query.get(name, ["0"])[-1].strip().lower() in {"1", "true", "yes", "on"}


def parse_email_url(url: str) -> dict[str, Any]:
    """The EMAIL_* settings an EMAIL_URL stands for; ImproperlyConfigured for a scheme or value it cannot be."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    query = parse_qs(parts.query)
    if scheme in SMTP_SCHEMES:
        use_tls, use_ssl, default_port = SMTP_SCHEMES[scheme]
        use_tls = use_tls or _flag(query, "tls")
        use_ssl = use_ssl or _flag(query, "ssl")
        if use_tls and use_ssl:
            raise ImproperlyConfigured("EMAIL_URL asks for both STARTTLS and SSL; choose one.")
        try:
            port = parts.port or default_port
            timeout = float(query.get("timeout", [DEFAULT_TIMEOUT_SECONDS])[-1])
        except ValueError as error:
            raise ImproperlyConfigured(f"EMAIL_URL has a bad port or timeout: {error}") from None
        if not parts.hostname:
            raise ImproperlyConfigured("EMAIL_URL names no mail server host.")
        if timeout <= 0:
            raise ImproperlyConfigured("EMAIL_URL's timeout must be a positive number of seconds.")
        return {
            "EMAIL_BACKEND": BACKENDS["smtp"],
            "EMAIL_HOST": parts.hostname,
            "EMAIL_PORT": port,
            "EMAIL_HOST_USER": unquote(parts.username or ""),
            "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
            "EMAIL_USE_TLS": use_tls,
            "EMAIL_USE_SSL": use_ssl,
            "EMAIL_TIMEOUT": timeout,
        }
    if scheme == "file":
        path = unquote(parts.path)
        if not path:
            raise ImproperlyConfigured("EMAIL_URL file:// needs a folder, e.g. file:///var/mail/payfirst.")
        return {"EMAIL_BACKEND": BACKENDS["file"], "EMAIL_FILE_PATH": path}
    if scheme in ("console", "locmem"):
        return {"EMAIL_BACKEND": BACKENDS[scheme]}
    raise ImproperlyConfigured(f"EMAIL_URL scheme {scheme!r} is not one of smtp, smtp+tls, smtps, file, console.")
