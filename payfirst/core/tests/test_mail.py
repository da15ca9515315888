"""EMAIL_URL parsing: SMTP with its encryption, credentials and timeout; file and console backends; bad URLs."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from payfirst.core.mail import parse_email_url
from payfirst.core.money import rupees


def test_smtp_with_starttls_credentials_and_timeout():
    assert parse_email_url("smtp+tls://mailer%40shop.in:p%40ss%2Fw@smtp.example.com:2587?timeout=5") == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "smtp.example.com",
        "EMAIL_PORT": 2587,
        "EMAIL_HOST_USER": "mailer@shop.in",
        "EMAIL_HOST_PASSWORD": "p@ss/w",
        "EMAIL_USE_TLS": True,
        "EMAIL_USE_SSL": False,
        "EMAIL_TIMEOUT": 5.0,
    }


@pytest.mark.parametrize(
    ("url", "port", "tls", "ssl"),
    [
        ("smtp://relay", 25, False, False),
        ("smtp://relay?tls=1", 25, True, False),
        ("submission://relay", 587, True, False),
        ("smtps://relay", 465, False, True),
        ("smtp+ssl://relay:1465", 1465, False, True),
    ],
)
def test_smtp_schemes_choose_port_and_encryption_and_always_a_timeout(url, port, tls, ssl):
    parsed = parse_email_url(url)
    assert (parsed["EMAIL_PORT"], parsed["EMAIL_USE_TLS"], parsed["EMAIL_USE_SSL"]) == (port, tls, ssl)
    assert parsed["EMAIL_TIMEOUT"] == 10.0 and parsed["EMAIL_HOST_USER"] == ""


def test_file_and_console():
    assert parse_email_url("file:///var/mail/payfirst") == {
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": "/var/mail/payfirst",
    }
    assert parse_email_url("console://")["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"


@pytest.mark.parametrize(
    "url",
    ["http://x", "smtp://", "smtp://relay?timeout=0", "smtp://relay?timeout=soon", "smtps://relay?tls=1", "file://"],
)
def test_urls_that_cannot_be_configured_are_refused(url):
    with pytest.raises(ImproperlyConfigured):
        parse_email_url(url)


@pytest.mark.parametrize(
    ("paise", "shown"),
    [(0, "₹0.00"), (5, "₹0.05"), (99900, "₹999.00"), (12345600, "₹1,23,456.00"), (123456789, "₹12,34,567.89")],
)
def test_rupees_uses_indian_grouping_from_integer_paise(paise, shown):
    assert rupees(paise) == shown
    assert rupees(-paise) == (f"-{shown}" if paise else shown)


def test_rupees_refuses_anything_but_integer_paise():
    with pytest.raises(TypeError):
        rupees(12.5)  # type: ignore[arg-type]
