"""Input and output shapes that let the merchants' existing front ends (the seeds) call payfirst unchanged.

create-from-cart's input takes payfirst's own fields and the seeds' names for them: `payment_method` (any case) for
`gateway`, inline `shipping_address` / `billing_address` objects for the `_id` fields. An inline address is
validated exactly like one sent to /api/auth/addresses/ (a missing phone is taken from the profile) and is then
used like an id: the customer's identical saved address, or a new one in their address book.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from payfirst.accounts import services as accounts
from payfirst.accounts.models import PHONE, Address, User
from payfirst.core.models import MAX_ID
from payfirst.gateways.registry import GATEWAY_NAMES

_ADDRESS_FIELDS = [
    "full_name",
    "phone",
    "address_line_1",
    "address_line_2",
    "city",
    "state",
    "postal_code",
    "country",
]


@extend_schema_serializer(component_name="InlineAddress")
class InlineAddressSerializer(serializers.ModelSerializer):
    """An Address given in the request body instead of by id (seed 000). Unknown keys are ignored."""

    class Meta:
        model = Address
        fields = _ADDRESS_FIELDS
        extra_kwargs = {
            "phone": {
                "required": False,
                "allow_blank": True,
                "help_text": "10 to 15 digits, optional +; when left out, the phone on your profile",
            },
            "postal_code": {"help_text": "6-digit Indian PIN code, first digit 1-9"},
            "country": {"default": "India"},
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("phone"):
            user = self.context.get("user")
            phone = getattr(user, "phone", "") or ""
            if not phone:
                raise serializers.ValidationError(
                    {"phone": ["Required: this address has no phone and neither has your profile."]}
                )
            try:
                PHONE(phone)
            except DjangoValidationError:
                raise serializers.ValidationError(
                    {"phone": ["Required: the phone on your profile is not a valid one."]}
                ) from None
            attrs["phone"] = phone
        return attrs


def _id_field(help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_ID, help_text=help_text)


class PaymentCreateInputSerializer(serializers.Serializer):
    """create-from-cart's body. `context["user"]`: the signed-in user (for an inline address's missing phone)."""

    gateway = serializers.ChoiceField(choices=GATEWAY_NAMES, required=False, help_text="or `payment_method`")
    payment_method = serializers.CharField(
        required=False, max_length=16, help_text='seed 000\'s name for `gateway`, any case ("razorpay", "PHONEPE")'
    )
    shipping_address_id = _id_field("one of your addresses; required when the cart holds products")
    billing_address_id = _id_field("one of your addresses; defaults to the shipping address")
    shipping_address = InlineAddressSerializer(
        required=False, allow_null=True, help_text="instead of shipping_address_id: the address itself"
    )
    billing_address = InlineAddressSerializer(
        required=False, allow_null=True, help_text="instead of billing_address_id: the address itself"
    )
    currency = serializers.ChoiceField(choices=["INR"], required=False, help_text="only INR; may be left out")
    redirect_url = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="where the browser returns after paying; under FRONTEND_BASE_URL or an allowed origin",
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict) and isinstance(data.get("currency"), str):
            data = {**data, "currency": data["currency"].strip().upper()}
        return super().to_internal_value(data)

    def validate_payment_method(self, value: str) -> str:
        method = value.strip().lower()
        if method not in GATEWAY_NAMES:
            raise serializers.ValidationError(f"Must be one of: {', '.join(GATEWAY_NAMES)} (any case).")
        return method

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        gateway, method = attrs.get("gateway"), attrs.pop("payment_method", None)
        if gateway and method and gateway != method:
            errors["payment_method"] = [f"Says {method} while gateway says {gateway}; send one of them."]
        attrs["gateway"] = gateway or method
        if not attrs["gateway"]:
            errors["gateway"] = ["This field is required (or send payment_method)."]
        for name in ("shipping_address", "billing_address"):
            if attrs.get(name) is not None and attrs.get(f"{name}_id") is not None:
                errors[name] = [f"Send {name} or {name}_id, not both."]
        if errors:
            raise serializers.ValidationError(errors)
        attrs.pop("currency", None)
        return attrs


def with_address_ids(*, user: User, values: dict[str, Any]) -> dict[str, Any]:
    """create_payment_for_cart's arguments: each inline address replaced by the id of the user's identical saved
    address, or of a new one. The same address sent again is found, not added twice."""
    arguments = dict(values)
    for name in ("shipping_address", "billing_address"):
        inline = arguments.pop(name, None)
        if inline is not None:
            arguments[f"{name}_id"] = _saved_address_id(user=user, fields=inline)
    return arguments


def _saved_address_id(*, user: User, fields: dict[str, Any]) -> int:
    values = {name: fields.get(name, "") for name in _ADDRESS_FIELDS}
    values["country"] = fields.get("country") or "India"
    existing = Address.objects.filter(user=user, **values).order_by("pk").values_list("pk", flat=True).first()
    if existing is not None:
        return existing
    return accounts.create_address(user=user, **values).pk
