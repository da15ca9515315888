"""Bearer-token authentication, and reads that fetch the signed-in user's row in their own statement.

simplejwt reads the `accounts_user` row on every request to check that the user still exists and is active: one
round trip before the view has started. The cart and a payment's detail are each read in one statement that can
carry that row too. So `BearerTokenAuthentication` (every signed-in endpoint's) verifies the token (signature,
expiry, type) and, for the GET and HEAD of a view that says `reads_signed_in_user = True` (a
`signed_in_views.ReadsSignedInUserApi`), hands it a `DeferredUser`: the id from the token, the row not read yet.
The view's statement joins the row and gives it over with `supply()`, which applies the checks simplejwt applies
(exists, active, and the password-change check when `CHECK_REVOKE_TOKEN` is on) with the same 401 answers.
Whatever else touches the user first (`request.user.email`, a queryset filtered by it) loads it through simplejwt
as before. Other methods and views authenticate exactly as simplejwt does.

Verifying a token (base64, JSON, the HMAC, the claims) cost about an eighth of a web process's CPU on a small read,
for the same token on every request of a session. `ValidatedTokens` keeps what this process verified, by the
token's exact bytes, until the token's own `exp`: a token is accepted from it only while simplejwt would still
accept it (a new signing key needs a restart either way: simplejwt builds its token backend once per process).
The user's row is checked on every request as before, so a deactivated or deleted user is still refused at once
(and a changed password, when `CHECK_REVOKE_TOKEN` is on).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.utils.functional import SimpleLazyObject, empty
from django.utils.translation import gettext as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

_READS = ("GET", "HEAD")


def user_not_found() -> AuthenticationFailed:
    return AuthenticationFailed(_("User not found"), code="user_not_found")


def checked_user(user: Any, token: Token) -> Any:
    """`user` if simplejwt would let this token in as them; otherwise the 401 simplejwt raises."""
    if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
        raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
    if api_settings.CHECK_REVOKE_TOKEN and token.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(
        user.password
    ):
        raise AuthenticationFailed(_("The user's password has been changed."), code="password_changed")
    return user


class DeferredUser(SimpleLazyObject):
    """The user a verified token names: `token_user_id` without a query, the row read when first needed (or
    `supply()`d by a statement that read it). Signed in by construction, so asking that reads nothing either."""

    is_authenticated = True
    is_anonymous = False

    def __bool__(self) -> bool:  # DRF's IsAuthenticated asks `request.user and …` first
        return True

    def __init__(self, *, user_id: Any, token: Token, load: Callable[[], Any]) -> None:
        super().__init__(load)
        self.__dict__["_token_user_id"] = user_id
        self.__dict__["_token"] = token

    def token_user_id(self) -> int:
        """The id the token names (a method of this class, so asking for it does not read the row)."""
        user_id = self.__dict__["_token_user_id"]
        if isinstance(user_id, bool) or not isinstance(user_id, (int, str)) or not str(user_id).isdigit():
            raise user_not_found()
        return int(user_id)

    def verify(self) -> None:
        """Read and check the row now, as authentication would have before the view (for a view that answers
        without its statement, e.g. a malformed id): a no-op once a statement supplied it."""
        if self.__dict__["_wrapped"] is empty:
            SimpleLazyObject._setup(self)  # type: ignore[attr-defined]  # Django's, not in django-stubs

    def supply(self, user: Any | None) -> Any:
        """Take the user row a view's own statement read (None: the statement found no such user), checked as
        authentication checks it; a refusal is the same 401 simplejwt answers."""
        if user is None or user.pk != self.token_user_id():
            raise user_not_found()
        self.__dict__["_wrapped"] = checked_user(user, self.__dict__["_token"])
        return user


class ValidatedTokens:
    """Tokens this process has verified, each until its `exp` (see the module's docstring). Bounded: full, it starts
    again empty."""

    MAX_TOKENS = 10_000

    def __init__(self) -> None:
        self._tokens: dict[bytes, tuple[float, Token]] = {}
        self._lock = threading.Lock()

    def get(self, raw_token: bytes) -> Token | None:
        found = self._tokens.get(raw_token)
        if found is None:
            return None
        expires_at, token = found
        if time.time() >= expires_at:
            with self._lock:
                self._tokens.pop(raw_token, None)
            return None
        return token

    def put(self, raw_token: bytes, token: Token) -> None:
        expires_at = token.payload.get("exp")
        if not isinstance(expires_at, (int, float)):
            return  # a token without an expiry is verified every time
        with self._lock:
            if len(self._tokens) >= self.MAX_TOKENS:
                self._tokens.clear()
            self._tokens[raw_token] = (float(expires_at), token)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


validated_tokens = ValidatedTokens()


class BearerTokenAuthentication(JWTAuthentication):
    """simplejwt's bearer-token authentication (every signed-in API endpoint's); on GET and HEAD of a view that says
    `reads_signed_in_user = True` the user row is left to the view's own statement (DeferredUser)."""

    def authenticate(self, request: Request) -> tuple[Any, Token] | None:
        view = request.parser_context.get("view") if request.parser_context else None
        self._defer = request.method in _READS and getattr(view, "reads_signed_in_user", False) is True
        return super().authenticate(request)

    def get_validated_token(self, raw_token: bytes) -> Token:
        token = validated_tokens.get(raw_token)
        if token is None:
            token = super().get_validated_token(raw_token)
            validated_tokens.put(raw_token, token)
        return token

    def get_user(self, validated_token: Token) -> Any:
        if not self._defer:
            return super().get_user(validated_token)
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken(_("Token contained no recognizable user identification")) from exc
        return DeferredUser(user_id=user_id, token=validated_token, load=lambda: self._load(validated_token))

    def _load(self, validated_token: Token) -> Any:
        return JWTAuthentication.get_user(self, validated_token)


class BearerTokenScheme(SimpleJWTScheme):
    """The OpenAPI schema describes it as simplejwt's bearer token (`jwtAuth`)."""

    target_class = "payfirst.accounts.authentication.BearerTokenAuthentication"
