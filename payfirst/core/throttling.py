"""Rate limits that hold across processes: fixed-window counters in the shared cache (`cache.add` then an atomic
`cache.incr`; the database cache by default, Redis with CACHE_URL), read by DRF throttle classes and by the admin's
sign-in page. Rates come from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] on every request, so a changed setting counts.

A window of `period` seconds starts at a multiple of `period`; the (limit+1)th hit in a window is refused until it
ends, which is what Retry-After says. Every hit counts, refused or not.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from payfirst.core.api import error_body

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int  # seconds


def rate_for(scope: str | None) -> Rate | None:
    """The scope's rate from settings ("20/minute"), or None when the scope has none or it is "off"."""
    text = api_settings.DEFAULT_THROTTLE_RATES.get(scope or "") if scope else None
    if not text:
        return None
    if not isinstance(text, str):  # DRF's stubs type the rates as numbers; DRF itself, like payfirst, reads text
        raise ImproperlyConfigured(f'DEFAULT_THROTTLE_RATES["{scope}"] must be text such as "20/minute" or "off".')
    if text.strip().lower() == "off":
        return None
    count, _, period = text.partition("/")
    return Rate(limit=int(count), period=_PERIODS[period.strip()[0].lower()])


def hit(*, scope: str, ident: str, rate: Rate) -> int | None:
    """Count one request by `ident` under `scope`. None when it is allowed, else the seconds until the window ends."""
    now = time.time()
    window = int(now // rate.period)
    digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    key = f"throttle:{scope}:{digest}:{window}"
    cache.add(key, 0, timeout=rate.period + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr: this hit opens the next window
        cache.add(key, 1, timeout=rate.period + 1)
        count = 1
    if count <= rate.limit:
        return None
    return max(1, math.ceil((window + 1) * rate.period - now))


def client_ident(request: HttpRequest | Request) -> str:
    """The client's address, as DRF's throttles take it (REMOTE_ADDR, or X-Forwarded-For behind NUM_PROXIES)."""
    # DRF's get_ident reads only `META`, which a DRF Request passes through from the Django request it wraps.
    drf_request = request if isinstance(request, Request) else Request(request)
    return "ip:" + BaseThrottle().get_ident(drf_request)


def account_ident(email: Any) -> str | None:
    """A sign-in's account, by its normalised email; None when the request names none."""
    if not isinstance(email, str) or not email.strip():
        return None
    return "account:" + get_user_model().objects.normalize_email(email.strip()).lower()[:254]


class _CounterThrottle(BaseThrottle):
    """A DRF throttle over `hit`. Subclasses say which scope and whom they count."""

    wait_seconds: int | None = None

    def scope_of(self, view: APIView) -> str | None:
        return getattr(view, "throttle_scope", None)

    def ident_of(self, request: Request) -> str | None:
        return client_ident(request)

    def allow_request(self, request: Request, view: APIView) -> bool:
        scope = self.scope_of(view)
        rate = rate_for(scope)
        ident = self.ident_of(request) if rate is not None else None
        if rate is None or ident is None or scope is None:
            return True
        self.wait_seconds = hit(scope=scope, ident=ident, rate=rate)
        return self.wait_seconds is None

    def wait(self) -> float | None:
        return self.wait_seconds


class ScopedThrottle(_CounterThrottle):
    """Per client address, under the view's `throttle_scope` (the public endpoints: register, token, check-email)."""


class UserScopedThrottle(_CounterThrottle):
    """Per signed-in user (per address for anyone else), under the view's `throttle_scope` (payments, refunds).
    Only requests that change something count: reading a list is not limited by it."""

    def ident_of(self, request: Request) -> str | None:
        if request.method in SAFE_METHODS:
            return None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return f"user:{user.pk}"
        return client_ident(request)


class SignInAccountThrottle(_CounterThrottle):
    """Per account signed in to, whoever asks: the API's token endpoint and the admin's sign-in share the count."""

    def scope_of(self, view: APIView) -> str | None:
        return "sign_in_account"

    def ident_of(self, request: Request) -> str | None:
        data = request.data
        return account_ident(data.get("email") if hasattr(data, "get") else None)


def is_counted(throttle: BaseThrottle) -> bool:
    """Whether `throttle` is one of these shared counters (the OpenAPI document adds a 429 for them)."""
    return isinstance(throttle, _CounterThrottle)


def throttled_response(wait: int) -> JsonResponse:
    response = JsonResponse(error_body("throttled", f"Too many requests. Try again in {wait} seconds."), status=429)
    response["Retry-After"] = str(wait)
    return response


def throttle_admin_login(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The admin's sign-in page, limited per client address (`admin_login`) and per account (`sign_in_account`)."""

    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            checks = [("admin_login", client_ident(request))]
            account = account_ident(request.POST.get("username"))
            if account is not None:
                checks.append(("sign_in_account", account))
            for scope, ident in checks:
                rate = rate_for(scope)
                wait = hit(scope=scope, ident=ident, rate=rate) if rate is not None else None
                if wait is not None:
                    return throttled_response(wait)
        return view(request, *args, **kwargs)

    return wrapped
