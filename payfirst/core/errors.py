"""Errors a client can act on. Each has a stable code and an HTTP status; the API renders them in one shape."""

from __future__ import annotations


class AppError(Exception):
    """A failure the client can act on. Subclasses set code, status and a default message."""

    code = "error"
    status = 400
    message = "The request could not be completed."

    def __init__(self, message: str | None = None, *, fields: dict[str, list[str]] | None = None) -> None:
        self.message = message or self.message
        self.fields = fields
        super().__init__(self.message)


class InvalidInput(AppError):
    code, status, message = "invalid_input", 400, "Check the highlighted fields."


class NotFound(AppError):
    code, status, message = "not_found", 404, "Not found."


class Forbidden(AppError):
    code, status, message = "forbidden", 403, "You are not allowed to do this."


class Conflict(AppError):
    code, status, message = "conflict", 409, "This conflicts with the current state."


class InvalidState(AppError):
    code, status, message = "invalid_state", 409, "This is not allowed in the current state."


class GatewayFailed(AppError):
    code, status, message = "gateway_error", 502, "The payment gateway did not respond. Please try again."


class MalformedRequest(AppError):
    code, status, message = "malformed_request", 400, "The request body is not valid JSON."


class PayloadTooLarge(AppError):
    code, status, message = "payload_too_large", 413, "The request body is larger than this endpoint accepts."


class Throttled(AppError):
    """Too many requests; `retry_after` (seconds) goes out as the Retry-After header."""

    code, status, message = "throttled", 429, "Too many requests. Please wait and try again."

    def __init__(self, message: str | None = None, *, retry_after: int) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message or f"Too many requests. Try again in {self.retry_after} seconds.")
