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
