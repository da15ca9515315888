"""The state table, pair by pair, and the compare-and-set transition with its audit event."""

from __future__ import annotations

import itertools

import pytest

from payfirst.core.errors import InvalidState
from payfirst.payments.models import Payment, PaymentEvent
from payfirst.payments.states import ALLOWED, EventSource, PaymentStatus, transition
from payfirst.testing.factories import make_bare_payment

S = PaymentStatus

EXPECTED_ALLOWED = {
    (S.PENDING, S.CAPTURED),
    (S.PENDING, S.FAILED),
    (S.PENDING, S.EXPIRED),
    (S.PENDING, S.CANCELLED),
    (S.PENDING, S.SUPERSEDED),
    (S.PENDING, S.FLAGGED),
    (S.FAILED, S.CAPTURED),
    (S.EXPIRED, S.CAPTURED),
    (S.CANCELLED, S.CAPTURED),
    (S.SUPERSEDED, S.CAPTURED),
    (S.FAILED, S.FLAGGED),
    (S.EXPIRED, S.FLAGGED),
    (S.CANCELLED, S.FLAGGED),
    (S.SUPERSEDED, S.FLAGGED),
    (S.CAPTURED, S.PARTIALLY_REFUNDED),
    (S.CAPTURED, S.REFUNDED),
    (S.PARTIALLY_REFUNDED, S.REFUNDED),
    (S.FLAGGED, S.PARTIALLY_REFUNDED),
    (S.FLAGGED, S.REFUNDED),
}


def test_allowed_table_covers_every_status():
    assert set(ALLOWED) == set(S.values)


def test_states_nothing_moves_backwards_to_pending_or_out_of_refunded():
    assert all(S.PENDING not in targets for targets in ALLOWED.values())
    assert ALLOWED[S.REFUNDED] == frozenset()


@pytest.mark.django_db
@pytest.mark.parametrize("from_status,to_status", list(itertools.product(S.values, S.values)))
def test_transition_every_pair_is_allowed_or_refused_as_the_table_says(user, from_status, to_status):
    payment = make_bare_payment(user=user, status=from_status)
    if from_status == to_status:
        assert transition(payment=payment, to=to_status, source=EventSource.API) is False
        assert not PaymentEvent.objects.filter(payment=payment).exists()
    elif (from_status, to_status) in EXPECTED_ALLOWED:
        assert transition(payment=payment, to=to_status, source=EventSource.WEBHOOK, detail="why") is True
        assert Payment.objects.get(pk=payment.pk).status == to_status
        event = PaymentEvent.objects.get(payment=payment)
        assert (event.from_status, event.to_status, event.source, event.detail) == (
            from_status,
            to_status,
            "webhook",
            "why",
        )
    else:
        with pytest.raises(InvalidState):
            transition(payment=payment, to=to_status, source=EventSource.API)
        assert Payment.objects.get(pk=payment.pk).status == from_status
        assert not PaymentEvent.objects.filter(payment=payment).exists()


@pytest.mark.django_db
def test_transition_refuses_a_stale_in_memory_status(user):
    payment = make_bare_payment(user=user)
    stale = Payment.objects.get(pk=payment.pk)
    assert transition(payment=payment, to=S.CAPTURED, source=EventSource.CONFIRM)
    with pytest.raises(InvalidState):
        transition(payment=stale, to=S.EXPIRED, source=EventSource.EXPIRY)
    assert Payment.objects.get(pk=payment.pk).status == S.CAPTURED
    assert PaymentEvent.objects.filter(payment=payment).count() == 1


@pytest.mark.django_db
def test_payment_events_are_append_only(user):
    payment = make_bare_payment(user=user)
    transition(payment=payment, to=S.CANCELLED, source=EventSource.API)
    event = PaymentEvent.objects.get(payment=payment)
    event.detail = "rewritten"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        PaymentEvent.objects.filter(pk=event.pk).update(detail="rewritten")
    with pytest.raises(PermissionError):
        PaymentEvent.objects.filter(pk=event.pk).delete()
    assert PaymentEvent.objects.get(pk=event.pk).detail == ""
