"""Verified access tokens are kept per process until their own expiry: a session's token is verified once, never
accepted past its `exp`, and the user's row is still checked on every request."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.tokens import RefreshToken

from payfirst.accounts import authentication
from payfirst.accounts.authentication import validated_tokens

PROFILE = "/api/auth/profile/"


@pytest.fixture(autouse=True)
def _no_tokens_kept() -> Iterator[None]:
    validated_tokens.clear()
    yield
    validated_tokens.clear()


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every token simplejwt itself verifies."""
    seen: list[bytes] = []
    verify = JWTAuthentication.get_validated_token

    def counted(self: JWTAuthentication, raw_token: bytes) -> object:
        seen.append(raw_token)
        return verify(self, raw_token)

    monkeypatch.setattr(JWTAuthentication, "get_validated_token", counted)
    return seen


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.mark.django_db
def test_a_sessions_token_is_verified_once(user, verifications):
    client = _client(str(RefreshToken.for_user(user).access_token))
    assert [client.get(PROFILE).status_code for _ in range(3)] == [200, 200, 200]
    assert len(verifications) == 1


@pytest.mark.django_db
def test_a_kept_token_is_refused_once_it_expires(user, verifications, monkeypatch):
    token = RefreshToken.for_user(user).access_token
    client = _client(str(token))
    assert client.get(PROFILE).status_code == 200
    later = float(token["exp"]) + 1
    monkeypatch.setattr(authentication.time, "time", lambda: later)
    monkeypatch.setattr("rest_framework_simplejwt.tokens.aware_utcnow", lambda: _utc(later))
    answer = client.get(PROFILE)
    assert answer.status_code == 401
    assert len(verifications) == 2  # not served from what was kept: simplejwt looked again, and refused it


@pytest.mark.django_db
def test_a_deactivated_user_is_refused_with_a_kept_token(user):
    client = _client(str(RefreshToken.for_user(user).access_token))
    assert client.get(PROFILE).status_code == 200
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert client.get(PROFILE).status_code == 401


def _utc(timestamp: float) -> datetime:

    return datetime.fromtimestamp(timestamp, tz=UTC)
