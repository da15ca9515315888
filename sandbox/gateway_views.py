"""Shared plumbing for the imitated gateway APIs: DRF views that render every failure in the gateway's own error
shape (never payfirst's), apply armed api_error / api_timeout faults, and the callback/redirect URL safety check."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, ClassVar
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest
from rest_framework import exceptions as drf
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sandbox.errors import PhonePeApiError, RazorpayApiError
from sandbox.faults import armed_kinds, hold_seconds, take_fault
from sandbox.models import Fault

logger = logging.getLogger(__name__)

GatewayShapedError = RazorpayApiError | PhonePeApiError


class GatewayApiView(APIView):
    """Base for the sandbox's gateway endpoints. A subclass per gateway sets `gateway`, `server_error` (its 5xx) and
    `translate` (DRF's own errors in the gateway's words), and may check credentials in `authenticate_caller`.

    No payfirst authentication, throttling or CSRF applies: the caller is a gateway client with the gateway's own
    credentials. `uses_faults` is off for the hosted pages' JSON endpoints, which are not the gateway API.
    """

    gateway: ClassVar[str]
    server_error: ClassVar[Callable[[], GatewayShapedError]]
    rate_limited: ClassVar[Callable[[], GatewayShapedError]]
    uses_faults: ClassVar[bool] = True
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]

    def authenticate_caller(self, request: Request) -> None:
        """Raise the gateway's own error when the caller's credentials are wrong (nothing to check by default)."""

    def translate(self, exc: drf.APIException) -> GatewayShapedError:
        raise exc

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.authenticate_caller(request)
        self._hold = 0.0
        if not self.uses_faults:
            return
        armed = armed_kinds(gateway=self.gateway)
        if take_fault(gateway=self.gateway, kind=Fault.Kind.RATE_LIMIT, armed=armed):
            logger.info("sandbox rate_limit fault on %s %s", self.gateway, request.path)
            raise type(self).rate_limited()
        if take_fault(gateway=self.gateway, kind=Fault.Kind.API_ERROR, armed=armed):
            logger.info("sandbox api_error fault", extra={"gateway": self.gateway, "path": request.path})
            raise type(self).server_error()
        if take_fault(gateway=self.gateway, kind=Fault.Kind.API_TIMEOUT, armed=armed):
            # The request is served normally (its effect happens); only the answer comes too late for the client.
            self._hold = hold_seconds()
            logger.info("sandbox api_timeout fault", extra={"gateway": self.gateway, "hold_seconds": self._hold})

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, drf.APIException):
            try:
                exc = self.translate(exc)
            except drf.APIException:
                return super().handle_exception(exc)
        if isinstance(exc, (RazorpayApiError, PhonePeApiError)):
            return Response(exc.body(), status=exc.status)
        return super().handle_exception(exc)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if getattr(self, "_hold", 0.0):
            time.sleep(self._hold)  # an armed api_timeout: bounded by faults.MAX_HOLD_SECONDS
        return response


def drf_error_text(exc: drf.APIException) -> str:
    if isinstance(exc, drf.ParseError):
        return "The request body is not valid JSON."
    if isinstance(exc, drf.UnsupportedMediaType):
        return "Send the request body as JSON."
    if isinstance(exc, drf.MethodNotAllowed):
        return "The requested method is not allowed for this URL."
    return str(exc.detail)


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def is_safe_return_url(url: str, *, request: HttpRequest) -> bool:
    """A URL the hosted page may send the browser (and the payment result) to: on an origin in
    SANDBOX_RETURN_ORIGINS (the app, its front end, its CORS origins) or on this server itself. Anything else would
    make the sandbox an open redirect."""
    origin = _origin(url)
    if origin is None:
        return False
    allowed = {_origin(item) for item in settings.SANDBOX_RETURN_ORIGINS}
    allowed.add(_origin(request.build_absolute_uri("/")))
    return origin in allowed - {None}
