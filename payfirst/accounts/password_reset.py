"""Password reset by email, with Django's token generator.

Asking answers the same whether or not the address has an account (no enumeration): the email, when there is an
account, is sent by the worker, so the request does the same little work either way. The link goes to the
storefront's reset page, `FRONTEND_BASE_URL/reset-password?uid=…&token=…`, which posts uid, token and the new
password back to the API. A token works until PASSWORD_RESET_TIMEOUT (an hour by default) and only once: it is
signed over the password hash and the last sign-in, so changing the password spends it.

The reset email is not written to the notifications outbox: its link is a credential, and the outbox keeps what it
sent for staff to read.
"""

from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django_tasks import task

from payfirst.accounts.errors import InvalidResetToken
from payfirst.accounts.models import User, UserManager
from payfirst.accounts.selectors import MAX_ID
from payfirst.core.errors import InvalidInput

logger = logging.getLogger("payfirst.accounts")


def request_password_reset(*, email: str) -> None:
    """Queue a reset email when an active account uses `email` (any letter case); do nothing otherwise."""
    user = User.objects.filter(email__iexact=UserManager.normalize_email(email), is_active=True).first()
    if user is None or not user.has_usable_password():
        return
    transaction.on_commit(lambda: send_password_reset_email.enqueue(user_id=user.pk), robust=True)


def reset_link(*, user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return f"{settings.FRONTEND_BASE_URL.rstrip('/')}/reset-password?uid={uid}&token={token}"


@task(queue_name="default")
def send_password_reset_email(user_id: int) -> bool:
    """Send the reset link (made now, so it is fresh). An SMTP failure is logged and not retried: the customer sees
    no email and asks again, which makes a new link."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    context = {
        "full_name": user.full_name,
        "link": reset_link(user=user),
        "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
    }
    subject = " ".join(render_to_string("accounts/email/password_reset_subject.txt", context).split())
    body = render_to_string("accounts/email/password_reset.txt", context)
    try:
        EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[user.email]).send()
    except (smtplib.SMTPException, OSError) as error:
        logger.warning("password reset email not sent", extra={"user_id": user.pk, "error": type(error).__name__})
        return False
    logger.info("password reset email sent", extra={"user_id": user.pk})
    return True


def _user_for_uid(uid: str) -> User | None:
    try:
        pk = int(force_str(urlsafe_base64_decode(uid)))
    except (ValueError, TypeError, OverflowError):
        return None
    if not 0 < pk <= MAX_ID:
        return None
    return User.objects.filter(pk=pk, is_active=True).first()


def confirm_password_reset(*, uid: str, token: str, new_password: str) -> User:
    """Set the new password if the uid and token match an active account; InvalidResetToken otherwise, and
    InvalidInput (fields.new_password) when a password validator refuses it."""
    user = _user_for_uid(uid)
    if user is None or not default_token_generator.check_token(user, token):
        raise InvalidResetToken()
    try:
        validate_password(new_password, user=user)
    except ValidationError as error:
        raise InvalidInput(fields={"new_password": list(error.messages)}) from None
    user.set_password(new_password)
    user.save(update_fields=["password"])
    logger.info("password reset", extra={"user_id": user.pk})
    return user
