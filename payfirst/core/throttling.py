"""Rate limits that hold across processes: fixed-window counters in the shared cache (`cache.add` then an atomic
`cache.incr`; the database cache by default, Redis with CACHE_URL), read by DRF throttle classes and by the admin's
sign-in page. Rates come from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] on every request, so a changed setting counts.

A window of `period` seconds starts at a multiple of `period`; the (limit+1)th hit in a window is refused until it
ends, which is what Retry-After says. Every hit counts, refused or not.

A `Quota` (webhooks) counts only some requests and refuses a source that used it up: with the database cache, the
"used up" mark is a cache row that a statement can test itself (`Quota.refused_sql`), so the requests that are never
counted pay no cache read of their own.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, router
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from payfirst.core.api import error_body
from payfirst.core.cache import DatabaseCache

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


def _window_key(*, scope: str, ident: str, rate: Rate, now: float) -> tuple[str, int]:
    window = int(now // rate.period)
    digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"throttle:{scope}:{digest}:{window}", window


def over_limit(*, scope: str, ident: str, rate: Rate) -> int | None:
    """Whether `ident` has used up `scope` in this window, without counting a hit (one cache read): None when not,
    else the seconds until the window ends. For limits that count only some requests with `hit` (webhooks count the
    deliveries that fail verification, and refuse a source that sent too many)."""
    now = time.time()
    key, window = _window_key(scope=scope, ident=ident, rate=rate, now=now)
    if int(cache.get(key) or 0) < rate.limit:
        return None
    return max(1, math.ceil((window + 1) * rate.period - now))


def hit(*, scope: str, ident: str, rate: Rate) -> int | None:
    """Count one request by `ident` under `scope`. None when it is allowed, else the seconds until the window ends."""
    now = time.time()
    count, window = _count_hit(scope=scope, ident=ident, rate=rate, now=now)
    if count <= rate.limit:
        return None
    return max(1, math.ceil((window + 1) * rate.period - now))


def _count_hit(*, scope: str, ident: str, rate: Rate, now: float) -> tuple[int, int]:
    """Add one to the window's counter; returns the count after it and the window."""
    key, window = _window_key(scope=scope, ident=ident, rate=rate, now=now)
    cache.add(key, 0, timeout=rate.period + 1)
    try:
        return cache.incr(key), window
    except ValueError:  # expired between add and incr: this hit opens the next window
        cache.add(key, 1, timeout=rate.period + 1)
        return 1, window


@dataclass(frozen=True)
class Quota:
    """`ident`'s allowance under `scope` where only some requests count (`hit`) and a source that used it up is
    refused everything until the window ends (webhooks: deliveries that fail verification count)."""

    scope: str
    ident: str
    rate: Rate

    def wait(self) -> int | None:
        """None while allowed, else the seconds until the window ends (one cache read)."""
        return over_limit(scope=self.scope, ident=self.ident, rate=self.rate)

    def hit(self) -> None:
        """Count one request; the one that uses the allowance up also leaves the mark `refused_sql` tests."""
        now = time.time()
        count, _ = _count_hit(scope=self.scope, ident=self.ident, rate=self.rate, now=now)
        if count >= self.rate.limit:
            cache.set(self._refused_key(now), True, timeout=self.seconds_left(now))

    def seconds_left(self, now: float | None = None) -> int:
        """Seconds until this window ends: Retry-After for a refused source."""
        now = time.time() if now is None else now
        return max(1, math.ceil((int(now // self.rate.period) + 1) * self.rate.period - now))

    def refused_sql(self) -> tuple[str, dict[str, Any]] | None:
        """An SQL condition, true while the source is refused, and its named parameters: a statement that must do
        nothing for a refused source includes it instead of reading the cache first. Only with the database cache
        on the default database (None otherwise: ask `wait`)."""
        shared = caches[DEFAULT_CACHE_ALIAS]
        if not isinstance(shared, DatabaseCache) or router.db_for_read(shared.cache_model_class) != connection.alias:
            return None
        quote = connection.ops.quote_name
        now = timezone.now().replace(microsecond=0, tzinfo=None)  # as DatabaseCache.has_key compares
        return (
            f"EXISTS (SELECT 1 FROM {quote(shared._table)} WHERE {quote('cache_key')} = %(refused_key)s "
            f"AND {quote('expires')} > %(refused_now)s)",
            {
                "refused_key": shared.make_and_validate_key(self._refused_key(time.time())),
                "refused_now": connection.ops.adapt_datetimefield_value(now),
            },
        )

    def _refused_key(self, now: float) -> str:
        key, _ = _window_key(scope=self.scope, ident=self.ident, rate=self.rate, now=now)
        return key.replace("throttle:", "throttle-refused:", 1)


def quota_for(*, scope: str, ident: str) -> Quota | None:
    """The source's `Quota` under `scope`, or None when the scope has no rate (or it is "off")."""
    rate = rate_for(scope)
    return None if rate is None else Quota(scope=scope, ident=ident, rate=rate)


def client_ident(request: HttpRequest | Request) -> str:
    """The client's address, as DRF's throttles take it (REMOTE_ADDR, or X-Forwarded-For behind NUM_PROXIES)."""
    # DRF's get_ident reads only `META`, which a DRF Request passes through from the Django request it wraps. No
    # REMOTE_ADDR at all (some test clients, a misconfigured proxy): one shared "unknown" source, not a crash.
    drf_request = request if isinstance(request, Request) else Request(request)
    return "ip:" + (BaseThrottle().get_ident(drf_request) or "unknown")


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
