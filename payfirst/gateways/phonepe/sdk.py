"""payfirst's own small client for PhonePe's documented v2 REST API (OAuth token, pay, order status, refund,
refund status) over httpx. The official PhonePe SDK is deliberately not used: it pins vulnerable requests/urllib3."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from payfirst.gateways.base import GatewayAuthError, GatewayRejected, GatewayUnavailable

logger = logging.getLogger(__name__)

_JSON_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}


@dataclass(frozen=True)
class Token:
    """An OAuth access token. PhonePe's own SDK treats it as stale at half its life; so do we."""

    access_token: str = field(repr=False)
    issued_at: int
    expires_at: int

    @property
    def refresh_at(self) -> int:
        return self.issued_at + (self.expires_at - self.issued_at) // 2

    def is_fresh(self, now: float) -> bool:
        return self.refresh_at > int(now)


class TokenCache:
    """Tokens per credential set, shared by every adapter in the process and safe across threads: one thread fetches
    while the others wait for its answer instead of stampeding the token endpoint."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._tokens: dict[str, Token] = {}

    def _lock_for(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def get(self, key: str, fetch: Callable[[], Token]) -> Token:
        with self._lock_for(key):
            token = self._tokens.get(key)
            if token is None or not token.is_fresh(self._clock()):
                token = fetch()
                self._tokens[key] = token
            return token

    def invalidate(self, key: str, token: Token) -> None:
        """Forget `token` after PhonePe refused it, unless another thread has already replaced it."""
        with self._lock_for(key):
            if self._tokens.get(key) is token:
                del self._tokens[key]

    def clear(self) -> None:
        with self._guard:
            self._tokens.clear()


TOKENS = TokenCache()

_shared_http: httpx.Client | None = None
_shared_http_lock = threading.Lock()


def shared_http() -> httpx.Client:
    """One pooled client for the process (httpx.Client is thread-safe); timeouts are set per request."""
    global _shared_http
    with _shared_http_lock:
        if _shared_http is None:
            _shared_http = httpx.Client(follow_redirects=False)
        return _shared_http


class PhonePeApi:
    """The five PhonePe calls payfirst makes. Every call carries the configured timeout; every failure is a
    GatewayError whose message never holds the client secret or a token."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        client_version: int,
        api_base: str,
        oauth_base: str,
        timeout_seconds: float,
        http: httpx.Client | None = None,
        tokens: TokenCache | None = None,
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._client_version = client_version
        self._api_base = api_base.rstrip("/")
        self._oauth_base = oauth_base.rstrip("/")
        self._timeout = httpx.Timeout(timeout_seconds)
        self._http = http if http is not None else shared_http()
        self._tokens = tokens if tokens is not None else TOKENS
        secret_digest = hashlib.sha256(client_secret.encode()).hexdigest()
        # The cache key names the credential set without holding the secret itself.
        self._token_key = f"{self._oauth_base}|{client_id}|{client_version}|{secret_digest}"

    # The API calls ------------------------------------------------------------------------------------------

    def pay(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._authorized("POST", "/checkout/v2/pay", json=dict(body))

    def order_status(self, merchant_order_id: str) -> dict[str, Any]:
        return self._authorized(
            "GET", f"/checkout/v2/order/{quote(merchant_order_id, safe='')}/status", params={"details": "true"}
        )

    def refund(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._authorized("POST", "/payments/v2/refund", json=dict(body))

    def refund_status(self, merchant_refund_id: str) -> dict[str, Any]:
        return self._authorized("GET", f"/payments/v2/refund/{quote(merchant_refund_id, safe='')}/status")

    # Token and transport ------------------------------------------------------------------------------------

    def token(self) -> Token:
        return self._tokens.get(self._token_key, self._fetch_token)

    def _fetch_token(self) -> Token:
        where = "PhonePe token request"
        form = {
            "client_id": self._client_id,
            "client_version": str(self._client_version),
            "client_secret": self._client_secret,
            "grant_type": "client_credentials",
        }
        response = self._send(
            "POST", f"{self._oauth_base}/v1/oauth/token", where, data=form, headers={"Accept": "application/json"}
        )
        if response.status_code in (400, 401, 403):
            # 400 INVALID_CLIENT is how PhonePe answers wrong client credentials.
            raise GatewayAuthError(f"PhonePe refused our client credentials ({self._describe(response)}).")
        body = self._json_or_raise(response, where)
        access_token, issued_at, expires_at = (body.get(k) for k in ("access_token", "issued_at", "expires_at"))
        if (
            not isinstance(access_token, str)
            or not access_token
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in (issued_at, expires_at))
            or expires_at < issued_at  # type: ignore[operator]
        ):
            raise GatewayRejected("PhonePe token response lacks access_token or integer issued_at/expires_at.")
        logger.info("phonepe token fetched", extra={"client_id": self._client_id, "expires_at": expires_at})
        return Token(access_token=access_token, issued_at=issued_at, expires_at=expires_at)  # type: ignore[arg-type]

    def _authorized(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Call with the cached token; on a 401 fetch a new token once and retry once."""
        where = f"PhonePe {method} {path}"
        token = self.token()
        response = self._send(method, f"{self._api_base}{path}", where, headers=self._auth_headers(token), **kwargs)
        if response.status_code == 401:
            self._tokens.invalidate(self._token_key, token)
            token = self.token()
            response = self._send(method, f"{self._api_base}{path}", where, headers=self._auth_headers(token), **kwargs)
        return self._json_or_raise(response, where)

    @staticmethod
    def _auth_headers(token: Token) -> dict[str, str]:
        return {**_JSON_HEADERS, "Authorization": f"O-Bearer {token.access_token}"}

    def _send(self, method: str, url: str, where: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, url, timeout=self._timeout, **kwargs)
        except httpx.TimeoutException:
            raise GatewayUnavailable(f"{where} got no answer within the timeout.") from None
        except httpx.TransportError as exc:
            raise GatewayUnavailable(f"{where} failed to connect ({type(exc).__name__}).") from None

    def _json_or_raise(self, response: httpx.Response, where: str) -> dict[str, Any]:
        status = response.status_code
        if status in (401, 403):
            raise GatewayAuthError(f"{where} was refused: {self._describe(response)}.")
        if status == 429 or status >= 500:
            raise GatewayUnavailable(f"{where} answered {self._describe(response)}.")
        if status == 404:
            raise GatewayRejected(f"{where} found nothing: {self._describe(response)}.")
        if status >= 300:
            raise GatewayRejected(f"{where} was rejected: {self._describe(response)}.")
        try:
            body = response.json()
        except ValueError:
            # A 2xx we cannot read leaves the outcome unknown: retrying with the same references is the safe move.
            raise GatewayUnavailable(f"{where} answered {status} with a body that is not JSON.") from None
        if not isinstance(body, dict):
            raise GatewayRejected(f"{where} answered with JSON that is not an object.")
        return body

    def _describe(self, response: httpx.Response) -> str:
        """`<status> <code>: <message>` from PhonePe's error body, cut short and scrubbed of our credentials."""
        text = str(response.status_code)
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            code = body.get("errorCode") or body.get("code")
            message = body.get("message")
            if code:
                text += f" {code}"
            if message:
                text += f": {str(message)[:200]}"
        return self.scrub(text)

    def scrub(self, text: str) -> str:
        if self._client_secret:
            text = text.replace(self._client_secret, "***")
        return text
