"""Errors in each gateway's own JSON shape. The SDKs call .json() on every error, so the sandbox never answers
a gateway API request with anything but these bodies."""

from __future__ import annotations

from typing import Any


class RazorpayApiError(Exception):
    """Rendered as {"error": {"code", "description", "source", "step", "reason", "metadata", "field"}}."""

    def __init__(
        self,
        description: str,
        *,
        status: int = 400,
        code: str = "BAD_REQUEST_ERROR",
        field: str | None = None,
        source: str = "NA",
        step: str = "NA",
        reason: str = "NA",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.status = status
        self.code = code
        self.field = field
        self.source = source
        self.step = step
        self.reason = reason
        self.metadata = metadata or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.code,
            "description": self.description,
            "source": self.source,
            "step": self.step,
            "reason": self.reason,
            "metadata": self.metadata,
        }
        if self.field:
            error["field"] = self.field
        return {"error": error}


def razorpay_invalid(description: str, field: str | None = None) -> RazorpayApiError:
    return RazorpayApiError(description, field=field, reason="input_validation_failed" if field else "NA")


RAZORPAY_NOT_FOUND = "The id provided does not exist"


class PhonePeApiError(Exception):
    """Rendered as {"success": false, "code", "message", "data": {}} (GATEWAYS.md 2.8)."""

    def __init__(self, message: str, *, status: int = 400, code: str = "BAD_REQUEST", **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"success": False, "code": self.code, "message": self.message, "data": {}, **self.extra}
