"""The outbox: recorded with the event's transaction, sent after it commits, once; a mail server that fails is tried
again with backoff by the sweep, and the message still goes out once."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from payfirst.notifications import services
from payfirst.notifications.models import Notification, NotificationKind, NotificationStatus
from payfirst.ops.tasks import run_queued_tasks

KIND = NotificationKind.BOOKING_CANCELLED
CONTEXT = {"booking_reference": "BK-TEST1", "name": "Ganesh Puja — Basic", "date": "2026-12-01", "time": "10:00"}


def _refused_port() -> int:
    """A local port nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_a_notification_is_sent_after_its_transaction_commits_and_once(user):
    with transaction.atomic():
        services.notify(key="booking-cancelled:1", kind=KIND, user_id=user.pk, context={**CONTEXT, "total": 250000})
        services.notify(key="booking-cancelled:1", kind=KIND, user_id=user.pk, context={**CONTEXT, "total": 1})
        assert mail.outbox == []
    assert Notification.objects.count() == 1
    run_queued_tasks()
    run_queued_tasks()
    services.send_due_notifications(now=timezone.now() + timedelta(days=1))
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [user.email] and message.subject == "Booking BK-TEST1 cancelled"
    assert "₹2,500.00" in message.body and "Asha Rao" in message.body
    row = Notification.objects.get()
    assert (row.status, row.attempts, row.subject, row.to_email) == ("SENT", 1, message.subject, user.email)
    assert row.body == message.body and row.sent_at is not None and row.claimed_until is None


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_event_sends_nothing(user):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.notify(key="booking-cancelled:2", kind=KIND, user_id=user.pk, context=CONTEXT)
        raise RuntimeError("the event failed")
    assert run_queued_tasks() == 0 and Notification.objects.count() == 0 and mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_a_failed_smtp_send_is_retried_with_backoff_then_sent_once(user):
    smtp = {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1"}
    with override_settings(**smtp, EMAIL_PORT=_refused_port(), EMAIL_TIMEOUT=2):
        with transaction.atomic():
            services.notify(key="booking-cancelled:3", kind=KIND, user_id=user.pk, context=CONTEXT)
        run_queued_tasks()  # the task queued on commit: the mail server refuses
        row = Notification.objects.get()
        assert (row.status, row.attempts, row.sent_at) == (NotificationStatus.PENDING, 1, None)
        assert "ConnectionRefusedError" in row.last_error and row.claimed_until is None
        first_retry = row.next_attempt_at
        assert first_retry >= row.updated_at + timedelta(seconds=59)
        # Not due yet: the sweep leaves it alone.
        assert services.send_due_notifications() == {}
        # Due, and the server still refuses: the next wait is twice as long.
        assert services.send_due_notifications(now=first_retry) == {"pending": 1}
        row.refresh_from_db()
        assert row.attempts == 2 and row.next_attempt_at >= first_retry + timedelta(seconds=119)
        second_retry = row.next_attempt_at
    # The mail server is back.
    assert services.send_due_notifications(now=second_retry) == {"sent": 1}
    assert services.send_due_notifications(now=second_retry + timedelta(days=1)) == {}
    run_queued_tasks()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (NotificationStatus.SENT, 3, "")


@pytest.mark.django_db(transaction=True)
def test_after_the_last_attempt_it_is_failed_and_left_alone(user):
    smtp = {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1"}
    services.notify(key="booking-cancelled:4", kind=KIND, user_id=user.pk, context=CONTEXT)
    Notification.objects.update(attempts=services.MAX_ATTEMPTS - 1)
    with override_settings(**smtp, EMAIL_PORT=_refused_port(), EMAIL_TIMEOUT=2):
        assert services.send_due_notifications() == {"failed": 1}
    assert services.send_due_notifications(now=timezone.now() + timedelta(days=30)) == {}
    assert Notification.objects.get().status == NotificationStatus.FAILED and mail.outbox == []


@pytest.mark.django_db
def test_a_claimed_notification_is_not_sent_by_a_second_sender_until_its_claim_runs_out(user):
    services.notify(key="booking-cancelled:5", kind=KIND, user_id=user.pk, context=CONTEXT)
    now = timezone.now()
    assert services._claim(key="booking-cancelled:5", now=now)
    # Another sender, meanwhile: the row is held.
    assert services.send_notification(key="booking-cancelled:5", now=now) == "claimed_elsewhere"
    assert mail.outbox == []
    # The first sender crashed: once its claim runs out, the sweep sends the message.
    later = now + services.CLAIM_LEASE + timedelta(seconds=1)
    assert services.send_due_notifications(now=later) == {"sent": 1} and len(mail.outbox) == 1


def test_the_backoff_doubles_up_to_an_hour():
    delays = [services.retry_delay(attempts=n) for n in (1, 2, 3, 7, 8, 30)]
    assert delays == [timedelta(minutes=m) for m in (1, 2, 4, 60, 60, 60)]


@pytest.mark.django_db
def test_an_unknown_kind_is_refused(user):
    with pytest.raises(ValueError):
        services.notify(key="x:1", kind="birthday", user_id=user.pk, context={})
    assert Notification.objects.count() == 0


@pytest.mark.django_db
def test_the_sweep_stops_at_the_first_failed_send_and_leaves_the_rest_for_the_next(user):
    smtp = {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1"}
    for n in (6, 7, 8):
        services.notify(key=f"booking-cancelled:{n}", kind=KIND, user_id=user.pk, context=CONTEXT)
    with override_settings(**smtp, EMAIL_PORT=_refused_port(), EMAIL_TIMEOUT=2):
        assert services.send_due_notifications() == {"pending": 1}
    assert sorted(Notification.objects.values_list("attempts", flat=True)) == [0, 0, 1]
    assert services.send_due_notifications() == {"sent": 2} and len(mail.outbox) == 2
