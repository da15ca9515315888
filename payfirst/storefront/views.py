"""The storefront's pages and its one piece of server state: the refresh-token cookie.

Pages are shells: the server renders the layout and which page it is, and the page's JavaScript (static/storefront/
app.js) does everything else through the public JSON API, exactly as a merchant's own front end would. No view here
reads a model.

Tokens: the access token lives only in the page's memory. The refresh token is handed to `POST /session/` once, right
after sign-in, and kept in an HttpOnly, SameSite=Strict cookie scoped to `/session/`; on each page load the page asks
`POST /session/refresh/` for a fresh access token. Script on the page (an injected one included) can never read the
refresh token, and no other site can make the browser send it. docs/storefront.md explains the choice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from payfirst.core.api import error_body

REFRESH_COOKIE = "payfirst_refresh"
COOKIE_PATH = "/session/"
MAX_BODY = 4096

PAGES = {
    "catalog": "storefront/catalog.html",
    "product": "storefront/product.html",
    "service": "storefront/service.html",
    "cart": "storefront/cart.html",
    "checkout": "storefront/checkout.html",
    "confirm": "storefront/confirm.html",
    "signin": "storefront/signin.html",
    "register": "storefront/register.html",
    "password_reset": "storefront/password_reset.html",
    "password_reset_confirm": "storefront/password_reset_confirm.html",
    "account": "storefront/account.html",
    "addresses": "storefront/addresses.html",
}


def page(name: str) -> Callable[..., HttpResponse]:
    """A view rendering the shell of page `name`; the URL's ids are passed to the page's script as data attributes."""
    template = PAGES[name]

    def view(request: HttpRequest, **ids: int) -> HttpResponse:
        context = {
            "page": name,
            "ids": ids,
            "merchant_name": settings.PAYFIRST_MERCHANT_NAME,
            "is_sandbox": settings.PAYFIRST_GATEWAYS == "sandbox",
        }
        response = render(request, template, context)
        # Pages hold an access token in memory: never cache them, never frame them.
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "same-origin"
        return response

    view.__name__ = f"{name}_page"
    return view


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


def _same_origin(request: HttpRequest) -> bool:
    """The request comes from this site's own pages. Browsers send Origin on every POST and DELETE made by fetch, so
    a missing or foreign one is refused (with SameSite=Strict, the second lock against cross-site requests)."""
    origin = request.headers.get("Origin", "")
    return bool(origin) and origin == f"{request.scheme}://{request.get_host()}"


def _set_refresh_cookie(response: HttpResponse, token: str) -> None:
    response.set_cookie(
        REFRESH_COOKIE,
        token,
        max_age=int(settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"].total_seconds()),
        path=COOKIE_PATH,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )


# CSRF: these views take no form posts and change nothing but the caller's own cookie; they are guarded by the
# Origin check and the SameSite=Strict cookie instead of Django's CSRF token, which the pages do not carry.
@csrf_exempt
@require_http_methods(["POST", "DELETE"])
def session(request: HttpRequest) -> HttpResponse:
    """POST `{refresh}`: keep a refresh token (just issued by /api/auth/token/) in the HttpOnly cookie; 204.
    DELETE: sign out, forgetting the cookie; 204."""
    if not _same_origin(request):
        return _error(403, "forbidden", "Only this site's own pages can do that.")
    response = HttpResponse(status=204)
    if request.method == "DELETE":
        response.delete_cookie(REFRESH_COOKIE, path=COOKIE_PATH, samesite="Strict")
        return response
    if len(request.body) > MAX_BODY:
        return _error(413, "payload_too_large", "The request body is too large.")
    try:
        body: Any = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return _error(400, "malformed_request", "The request body is not valid JSON.")
    refresh = body.get("refresh") if isinstance(body, dict) else None
    if not isinstance(refresh, str) or not refresh:
        return JsonResponse(
            error_body("invalid_input", "Check the highlighted fields.", {"refresh": ["This field is required."]}),
            status=400,
        )
    try:
        RefreshToken(refresh)  # type: ignore[arg-type]  # simplejwt types the encoded token as Token: its issue #787
    except TokenError:
        return _error(401, "authentication_failed", "The refresh token is invalid or expired.")
    _set_refresh_cookie(response, refresh)
    return response


@csrf_exempt
@require_http_methods(["POST"])
def session_refresh(request: HttpRequest) -> HttpResponse:
    """A fresh access token from the cookie's refresh token: 200 `{access}`; 401 when there is none or it expired
    (the page then shows the signed-out state)."""
    if not _same_origin(request):
        return _error(403, "forbidden", "Only this site's own pages can do that.")
    token = request.COOKIES.get(REFRESH_COOKIE, "")
    if not token:
        return _error(401, "not_authenticated", "You are not signed in.")
    try:
        refresh = RefreshToken(token)  # type: ignore[arg-type]  # as above: the encoded token is a str
        access = str(refresh.access_token)
    except TokenError:
        response = _error(401, "authentication_failed", "Your session has expired; please sign in again.")
        response.delete_cookie(REFRESH_COOKIE, path=COOKIE_PATH, samesite="Strict")
        return response
    response = JsonResponse({"access": access})
    response["Cache-Control"] = "no-store"
    return response
