"""The accounts app's errors, on the AppError tree."""

from __future__ import annotations

from payfirst.core.errors import InvalidInput

EMAIL_TAKEN = "An account with this email already exists."


class EmailTaken(InvalidInput):
    """A duplicate email is a field error of the sign-up form, so it keeps the `invalid_input` code."""

    message = EMAIL_TAKEN

    def __init__(self) -> None:
        super().__init__(fields={"email": [EMAIL_TAKEN]})
