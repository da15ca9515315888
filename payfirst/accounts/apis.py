"""The accounts API (API.md, Accounts): sign-up, JWT tokens, email check, profile and address book.

Sign-up, token and email-check are public: they run no authentication at all, so a stale Authorization header
left behind by a front end never turns them into a 401. Each is throttled per client address.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from drf_spectacular.utils import (
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from payfirst.accounts import password_reset, services
from payfirst.accounts.models import ADDRESS_FIELDS, PHONE, Address, User, UserManager
from payfirst.accounts.selectors import addresses_for_user, get_address, is_email_available, signed_in_user
from payfirst.accounts.serializers import AddressOutput, UserOutput
from payfirst.core.schema import (
    INVALID_INPUT,
    NOT_AUTHENTICATED,
    NOT_FOUND,
    RETRY_AFTER,
    THROTTLED,
    error_response,
)
from payfirst.core.throttling import ScopedThrottle, SignInAccountThrottle

if TYPE_CHECKING:  # the stubs' alias for what permission_classes holds; it does not exist at run time
    from rest_framework.permissions import _PermissionClass

TAGS = ["accounts"]


class _PublicApi:
    # Typed as APIView types them, so the views that mix this in stay compatible with it.
    authentication_classes: Sequence[type[BaseAuthentication]] = []
    permission_classes: Sequence[_PermissionClass] = [AllowAny]
    throttle_classes: Sequence[type[BaseThrottle]] = [ScopedThrottle]


@extend_schema_field({"type": "string", "pattern": r"^(\+?[0-9]{10,15})?$", "maxLength": 16})
class OptionalPhoneField(serializers.CharField):
    """A phone number that may be empty: 10 to 15 digits, optionally starting with +."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=16, allow_blank=True, validators=[PHONE], **kwargs)


def _user(request: Request) -> User:
    return signed_in_user(request)


class UserRegisterApi(_PublicApi, APIView):
    throttle_scope = "register"

    @extend_schema_serializer(component_name="Register")
    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(
            max_length=254, help_text="unique, compared case-insensitively; stored lower-case"
        )
        password = serializers.CharField(
            max_length=128,
            trim_whitespace=False,
            write_only=True,
            style={"input_type": "password"},
            help_text="checked by the password validators (length, common, numeric, similar to the email)",
        )
        full_name = serializers.CharField(max_length=150)
        phone = OptionalPhoneField(required=False, help_text="10 to 15 digits, optional +; may be left out or empty")

    @extend_schema(
        tags=TAGS,
        operation_id="auth_register",
        summary="Create an account",
        description="An email already registered, in any letter case, is 400 `invalid_input` with `fields.email`. "
        "The password goes through the password validators; their messages come back under `fields.password`.",
        auth=[],
        request=InputSerializer,
        responses={
            201: UserOutput,
            400: INVALID_INPUT,
            429: THROTTLED,
        },
        parameters=[RETRY_AFTER],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.register_user(**data.validated_data)
        return Response(UserOutput(user).data, status=status.HTTP_201_CREATED)


class SignInSerializer(TokenObtainPairSerializer):
    """simplejwt's sign-in with bounded fields: a 50,000-character email never reaches a case-insensitive lookup."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields[self.username_field] = serializers.CharField(max_length=254, write_only=True)
        self.fields["password"] = serializers.CharField(
            max_length=4096, write_only=True, trim_whitespace=False, style={"input_type": "password"}
        )


@extend_schema_view(
    post=extend_schema(
        tags=TAGS,
        operation_id="auth_token_obtain",
        summary="Sign in: trade email and password for an access and a refresh token",
        description="Send the access token as `Authorization: Bearer <access>`; when it expires, trade the refresh "
        "token at /api/auth/token/refresh/. The email is matched in any letter case.",
        request=TokenObtainPairSerializer,
        responses={
            200: TokenObtainPairSerializer,
            400: INVALID_INPUT,
            401: error_response("`authentication_failed`: wrong email or password, or the account is inactive."),
            429: THROTTLED,
        },
        parameters=[RETRY_AFTER],
    )
)
class TokenObtainApi(TokenObtainPairView):
    serializer_class = SignInSerializer
    # Per client address (`token`) and per account (`sign_in_account`, shared with the admin's sign-in page).
    throttle_classes = [ScopedThrottle, SignInAccountThrottle]
    throttle_scope = "token"


@extend_schema_view(
    post=extend_schema(
        tags=TAGS,
        operation_id="auth_token_refresh",
        summary="Trade a refresh token for a new access token",
        description="The refresh token stays valid until it expires; no new one is issued.",
        request=TokenRefreshSerializer,
        responses={
            200: TokenRefreshSerializer,
            400: INVALID_INPUT,
            401: error_response("`authentication_failed`: the refresh token is invalid or expired."),
        },
    )
)
class TokenRefreshApi(TokenRefreshView):
    pass


class EmailCheckApi(_PublicApi, APIView):
    throttle_scope = "check_email"

    @extend_schema_serializer(component_name="EmailCheckQuery")
    class QuerySerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254, help_text="the address to check")

    @extend_schema_serializer(component_name="EmailAvailability")
    class OutputSerializer(serializers.Serializer):
        email = serializers.EmailField(help_text="the address checked, lower-cased as it would be stored")
        available = serializers.BooleanField(help_text="false when an account already uses it, in any letter case")

    @extend_schema(
        tags=TAGS,
        operation_id="auth_check_email",
        summary="Is this email free to register?",
        auth=[],
        parameters=[QuerySerializer, RETRY_AFTER],
        responses={200: OutputSerializer, 400: INVALID_INPUT, 429: THROTTLED},
    )
    def get(self, request: Request) -> Response:
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        email = UserManager.normalize_email(query.validated_data["email"])
        return Response({"email": email, "available": is_email_available(email=email)})


class ProfileDetailApi(APIView):
    @extend_schema_serializer(component_name="ProfileUpdate")
    class InputSerializer(serializers.Serializer):
        full_name = serializers.CharField(max_length=150, required=False)
        phone = OptionalPhoneField(required=False, help_text='10 to 15 digits, optional +; "" clears it')

    @extend_schema(
        tags=TAGS,
        operation_id="auth_profile_retrieve",
        summary="The signed-in user",
        responses={200: UserOutput, 401: NOT_AUTHENTICATED},
    )
    def get(self, request: Request) -> Response:
        return Response(UserOutput(_user(request)).data)

    @extend_schema(
        tags=TAGS,
        operation_id="auth_profile_update",
        summary="Change your name or phone (the email cannot be changed here; it is ignored if sent)",
        request=InputSerializer,
        responses={200: UserOutput, 400: INVALID_INPUT, 401: NOT_AUTHENTICATED},
    )
    def patch(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.update_profile(user=_user(request), **data.validated_data)
        return Response(UserOutput(user).data)


class AddressInputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Address
        fields = list(ADDRESS_FIELDS)
        extra_kwargs = {
            "gstin": {"help_text": "optional: your business's GSTIN for a B2B tax invoice; it must be of this state"},
            "phone": {"help_text": "10 to 15 digits, optional +"},
            "postal_code": {"help_text": "6-digit Indian PIN code, first digit 1-9"},
            "country": {"default": "India"},
            "is_default": {
                "help_text": "true makes this the default and clears it on your other addresses; "
                "when left out on create, your first address becomes the default"
            },
        }


class AddressListApi(GenericAPIView):
    serializer_class = AddressOutput

    @extend_schema(
        tags=TAGS,
        operation_id="auth_addresses_list",
        summary="Your addresses, the default first",
        responses={200: AddressOutput(many=True), 401: NOT_AUTHENTICATED, 404: NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(addresses_for_user(user=_user(request)))
        return self.get_paginated_response(AddressOutput(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        operation_id="auth_addresses_create",
        summary="Add an address",
        description="Your first address becomes the default unless you send `is_default: false`; "
        "`is_default: true` moves the default here from your other address.",
        request=AddressInputSerializer,
        responses={201: AddressOutput, 400: INVALID_INPUT, 401: NOT_AUTHENTICATED},
    )
    def post(self, request: Request) -> Response:
        data = AddressInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        address = services.create_address(user=_user(request), **data.validated_data)
        return Response(AddressOutput(address).data, status=status.HTTP_201_CREATED)


class AddressDetailApi(APIView):
    @extend_schema(
        tags=TAGS,
        operation_id="auth_addresses_retrieve",
        summary="One of your addresses",
        responses={200: AddressOutput, 401: NOT_AUTHENTICATED, 404: NOT_FOUND},
    )
    def get(self, request: Request, id: int) -> Response:  # noqa: A002 - API.md names the path parameter `id`
        return Response(AddressOutput(get_address(user=_user(request), address_id=id)).data)

    @extend_schema(
        tags=TAGS,
        operation_id="auth_addresses_update",
        summary="Change some fields of one of your addresses",
        description="`is_default: true` clears it on your other addresses. Another user's address is 404.",
        request=AddressInputSerializer,
        responses={200: AddressOutput, 400: INVALID_INPUT, 401: NOT_AUTHENTICATED, 404: NOT_FOUND},
    )
    def patch(self, request: Request, id: int) -> Response:  # noqa: A002
        data = AddressInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        address = services.update_address(user=_user(request), address_id=id, changes=data.validated_data)
        return Response(AddressOutput(address).data)

    @extend_schema(
        tags=TAGS,
        operation_id="auth_addresses_destroy",
        summary="Delete one of your addresses",
        description="Deleting the default leaves you without one until you set another. Another user's address is 404.",
        responses={204: None, 401: NOT_AUTHENTICATED, 404: NOT_FOUND},
    )
    def delete(self, request: Request, id: int) -> Response:  # noqa: A002
        services.delete_address(user=_user(request), address_id=id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetApi(_PublicApi, APIView):
    throttle_scope = "password_reset"

    @extend_schema_serializer(component_name="PasswordResetRequest")
    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254, help_text="the account's email, in any letter case")

    @extend_schema(
        tags=TAGS,
        operation_id="auth_password_reset",
        summary="Ask for a password reset email",
        description="Always 202 for a well-formed email, whether or not an account uses it, so the answer does not "
        "tell who has an account. When one does, an email with a link to the storefront's "
        "`/reset-password?uid=…&token=…` page is sent; the link works once, for an hour "
        "(`PASSWORD_RESET_TIMEOUT`). Throttled per client address (`THROTTLE_PASSWORD_RESET`, 5/hour).",
        auth=[],
        request=InputSerializer,
        responses={
            202: inline_serializer("PasswordResetAccepted", {"detail": serializers.CharField()}),
            400: INVALID_INPUT,
            429: THROTTLED,
        },
        parameters=[RETRY_AFTER],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        password_reset.request_password_reset(email=data.validated_data["email"])
        return Response(
            {"detail": "If an account uses this email, a link to reset its password is on its way."},
            status=status.HTTP_202_ACCEPTED,
        )


class PasswordResetConfirmApi(_PublicApi, APIView):
    throttle_scope = "password_reset_confirm"

    @extend_schema_serializer(component_name="PasswordResetConfirm")
    class InputSerializer(serializers.Serializer):
        uid = serializers.CharField(max_length=64, help_text="the `uid` of the emailed link")
        token = serializers.CharField(max_length=128, help_text="the `token` of the emailed link")
        new_password = serializers.CharField(
            max_length=128,
            trim_whitespace=False,
            write_only=True,
            style={"input_type": "password"},
            help_text="checked by the password validators (length, common, numeric, similar to the email)",
        )

    @extend_schema(
        tags=TAGS,
        operation_id="auth_password_reset_confirm",
        summary="Set a new password with the emailed link's uid and token",
        description="400 `invalid_token` when the link is wrong, used already or older than an hour; 400 "
        "`invalid_input` with `fields.new_password` when a password validator refuses the new password (the link "
        "stays usable). Then sign in with the new password at /api/auth/token/.",
        auth=[],
        request=InputSerializer,
        responses={
            200: inline_serializer("PasswordResetDone", {"detail": serializers.CharField()}),
            400: error_response(
                "`invalid_token`: the link is invalid or expired; `invalid_input` with `fields` (e.g. "
                "`fields.new_password`)."
            ),
            429: THROTTLED,
        },
        parameters=[RETRY_AFTER],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        password_reset.confirm_password_reset(**data.validated_data)
        return Response({"detail": "Your password has been changed. Sign in with the new one."})
