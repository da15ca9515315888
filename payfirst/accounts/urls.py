"""Accounts routes, mounted at /api/auth/."""

from django.urls import path

from payfirst.accounts.apis import (
    AddressDetailApi,
    AddressListApi,
    EmailCheckApi,
    PasswordResetApi,
    PasswordResetConfirmApi,
    ProfileDetailApi,
    TokenObtainApi,
    TokenRefreshApi,
    UserRegisterApi,
)

urlpatterns = [
    path("register/", UserRegisterApi.as_view(), name="auth-register"),
    path("token/", TokenObtainApi.as_view(), name="auth-token"),
    path("token/refresh/", TokenRefreshApi.as_view(), name="auth-token-refresh"),
    path("password-reset/", PasswordResetApi.as_view(), name="auth-password-reset"),
    path("password-reset/confirm/", PasswordResetConfirmApi.as_view(), name="auth-password-reset-confirm"),
    path("check-email/", EmailCheckApi.as_view(), name="auth-check-email"),
    path("profile/", ProfileDetailApi.as_view(), name="auth-profile"),
    path("addresses/", AddressListApi.as_view(), name="auth-address-list"),
    # `id` as API.md names it, so the OpenAPI path reads /api/auth/addresses/{id}/.
    path("addresses/<int:id>/", AddressDetailApi.as_view(), name="auth-address-detail"),
]
