"""The accounts app's errors, on the AppError tree."""

from __future__ import annotations

from payfirst.core.errors import AppError, InvalidInput

EMAIL_TAKEN = "An account with this email already exists."


class EmailTaken(InvalidInput):
    """A duplicate email is a field error of the sign-up form, so it keeps the `invalid_input` code."""

    message = EMAIL_TAKEN

    def __init__(self) -> None:
        super().__init__(fields={"email": [EMAIL_TAKEN]})


class InvalidResetToken(AppError):
    """A password-reset link that is wrong, used already, or too old."""

    code, status, message = (
        "invalid_token",
        400,
        "This password reset link is invalid or has expired. Ask for a new one.",
    )
