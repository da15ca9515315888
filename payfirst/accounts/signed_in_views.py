"""The base of views whose GET reads the signed-in user's row in its own statement (accounts/authentication.py).

Kept apart from the authentication module: DRF's views module imports the authentication classes its settings name,
so that module must not import DRF's views.
"""

from __future__ import annotations

from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from payfirst.accounts.authentication import DeferredUser


# A view whose GET reads the signed-in user's row in its own statement (`BearerTokenAuthentication` hands it a
# DeferredUser). An error answered before that statement ran (a malformed id, say) comes after the row's checks, as
# when authentication read the row first: a token that is no longer good is a 401, never the view's 404.
# (A comment, not a docstring: the OpenAPI schema takes a view's docstring as its operations' description.)
class ReadsSignedInUserApi(APIView):
    reads_signed_in_user = True

    def handle_exception(self, exc: Exception) -> Response:
        user = self.request.user
        if isinstance(user, DeferredUser) and not isinstance(exc, (AuthenticationFailed, NotAuthenticated)):
            try:
                user.verify()
            except AuthenticationFailed as refused:
                exc = refused
        return super().handle_exception(exc)
