"""The User and Address shapes of API.md, used by several endpoints (and by payments for address snapshots)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from payfirst.accounts.models import Address, User


@extend_schema_serializer(component_name="User")
class UserOutput(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "full_name", "phone", "date_joined"]
        read_only_fields = fields


@extend_schema_serializer(component_name="Address")
class AddressOutput(serializers.ModelSerializer):
    class Meta:
        model = Address
        fields = [
            "id",
            "full_name",
            "phone",
            "address_line_1",
            "address_line_2",
            "city",
            "state",
            "postal_code",
            "country",
            "gstin",
            "is_default",
        ]
        read_only_fields = fields
