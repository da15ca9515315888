"""Serializer fields more than one app's API uses, defined once."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@extend_schema_field({"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$", "example": "10:00"})
class HourMinuteField(serializers.TimeField):
    """A slot time as API.md writes it: "HH:MM" (24 h); "HH:MM:SS" is accepted on input."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", input_formats=["%H:%M", "%H:%M:%S"], **kwargs)
