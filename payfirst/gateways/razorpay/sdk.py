"""The one place the official `razorpay` SDK is imported: a client with a timeout on every call, and its errors
translated into the GatewayError tree (the rest of payfirst never sees a `requests` or `razorpay` exception)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlparse

import razorpay
import razorpay.errors
import requests

from payfirst.gateways.base import GatewayAuthError, GatewayError, GatewayRejected, GatewayUnavailable

T = TypeVar("T")


class _TimeoutSession(requests.Session):
    """A requests Session that puts our timeout on every request the SDK makes (the SDK sets none)."""

    def __init__(self, timeout_seconds: float) -> None:
        super().__init__()
        self.timeout_seconds = timeout_seconds
        self.hooks["response"].append(_classify_response)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["timeout"] = self.timeout_seconds
        # Translated here rather than after the SDK: the SDK print()s transport errors to stdout before re-raising
        # them, and a GatewayError passes through it untouched.
        try:
            return super().request(method, url, *args, **kwargs)
        except requests.exceptions.Timeout:
            raise GatewayUnavailable("Razorpay did not answer within the timeout.") from None
        except requests.exceptions.ConnectionError:
            raise GatewayUnavailable("Could not connect to Razorpay.") from None


_sessions = threading.local()


def pooled_session(timeout_seconds: float) -> _TimeoutSession:
    """This thread's session for `timeout_seconds`, kept for the life of the thread so that its connections to the
    gateway are reused: a session per call meant a new TCP connection, and against the real API a TLS handshake, on
    every call. One per thread, because requests does not promise that a Session is safe to share between threads.
    The key pair travels with each request (the SDK passes `auth` per call), never in the session."""
    by_timeout: dict[float, _TimeoutSession] | None = getattr(_sessions, "by_timeout", None)
    if by_timeout is None:
        by_timeout = _sessions.by_timeout = {}
    session = by_timeout.get(timeout_seconds)
    if session is None:
        session = by_timeout[timeout_seconds] = _TimeoutSession(timeout_seconds)
    return session


def _error_text(response: requests.Response) -> tuple[str, str]:
    """(code, description) from Razorpay's JSON error shape, or ("", "") when the body says nothing usable."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("code") or ""), str(error.get("description") or "")


def _classify_response(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    """Map what the SDK cannot: it classifies errors by `error.code` only (a 401 says BAD_REQUEST_ERROR, a 5xx from a
    proxy has no JSON at all). Raised here, before the SDK parses the body; 2xx and JSON 4xx go on to the SDK."""
    status = response.status_code
    where = f"Razorpay {response.request.method} {_path(response.request.url)}"
    if 200 <= status < 300:
        try:
            response.json()
        except ValueError:
            raise GatewayUnavailable(f"{where} answered {status} with a body that is not JSON.") from None
        return response
    code, description = _error_text(response)
    detail = f": {description}" if description else ""
    if status >= 500 or status == 429:
        raise GatewayUnavailable(f"{where} answered {status}{detail}")
    if status in (401, 403):
        raise GatewayAuthError(f"{where} refused our API key ({status}){detail}")
    if not code:
        raise GatewayRejected(f"{where} answered {status} with no Razorpay error body.")
    return response


def _path(url: str | bytes | None) -> str:
    # Log and error lines carry the path only; the query string of a GET could hold customer data.
    text = url.decode() if isinstance(url, bytes) else (url or "")
    return urlparse(text).path


class _Client(razorpay.Client):
    """The SDK's client, with its own version read once per process: the SDK asks `importlib.metadata` for it (a scan
    of the installed distributions) on every request, to build its User-Agent header."""

    _version: str | None = None

    def _get_version(self) -> str:
        if _Client._version is None:
            _Client._version = str(super()._get_version())
        return _Client._version


class RazorpayApi:
    """The SDK calls payfirst makes, each behind one error translation. Amounts are integer paise."""

    def __init__(self, *, key_id: str, key_secret: str, base_url: str, timeout_seconds: float) -> None:
        self._client = _Client(
            session=pooled_session(timeout_seconds), auth=(key_id, key_secret), base_url=base_url.rstrip("/")
        )

    def create_order(self, data: Mapping[str, Any]) -> dict[str, Any]:
        return _call(self._client.order.create, dict(data))

    def orders_with_receipt(self, receipt: str) -> dict[str, Any]:
        return _call(self._client.order.all, {"receipt": receipt, "count": 10})

    def fetch_order(self, order_id: str) -> dict[str, Any]:
        return _call(self._client.order.fetch, order_id, {})

    def order_payments(self, order_id: str) -> dict[str, Any]:
        return _call(self._client.order.payments, order_id, {})

    def fetch_payment(self, payment_id: str) -> dict[str, Any]:
        return _call(self._client.payment.fetch, payment_id, {})

    def capture(self, payment_id: str, *, amount: int, currency: str) -> dict[str, Any]:
        # capture(payment_id, amount, data) takes the amount positionally; a fresh dict avoids the SDK's
        # mutable default argument.
        return _call(self._client.payment.capture, payment_id, amount, {"currency": currency})

    def refund(self, payment_id: str, data: Mapping[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        # The second `Payment.refund(payment_id, data)` definition is the one that wins: the amount goes in `data`.
        # Extra keyword arguments travel through the SDK to the session as request options.
        return _call(
            self._client.payment.refund, payment_id, dict(data), headers={"X-Refund-Idempotency": idempotency_key}
        )

    def payment_refunds(self, payment_id: str, *, count: int, skip: int) -> dict[str, Any]:
        return _call(self._client.payment.fetch_multiple_refund, payment_id, {"count": count, "skip": skip})

    def fetch_refund(self, refund_id: str) -> dict[str, Any]:
        return _call(self._client.refund.fetch, refund_id, {})


def _call(method: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Run one SDK call and translate whatever it raises. Messages name the failure, never a credential."""
    try:
        result = method(*args, **kwargs)
    except GatewayError:
        raise  # already classified by _classify_response
    except razorpay.errors.BadRequestError as exc:
        raise GatewayRejected(f"Razorpay refused the request: {exc}") from None
    except (razorpay.errors.GatewayError, razorpay.errors.ServerError) as exc:
        raise GatewayUnavailable(f"Razorpay reported a server-side error: {exc}") from None
    except requests.exceptions.Timeout:
        raise GatewayUnavailable("Razorpay did not answer within the timeout.") from None
    except requests.exceptions.ConnectionError:
        raise GatewayUnavailable("Could not connect to Razorpay.") from None
    except requests.exceptions.RequestException as exc:
        raise GatewayUnavailable(f"Razorpay request failed: {type(exc).__name__}.") from None
    if isinstance(result, str):
        # The SDK turns a 204 into the string "{}"; nothing we call answers 204, but never hand back a str.
        result = json.loads(result)
    if not isinstance(result, dict):
        raise GatewayRejected("Razorpay answered with JSON that is not an object.")
    return result
