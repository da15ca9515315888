"""Cancelling and expiring PENDING payments: their reservations are given back in the same transaction."""

from __future__ import annotations

import logging
from collections import Counter

from django.db import DatabaseError, transaction
from django.utils import timezone

from payfirst.accounts.models import User
from payfirst.core.errors import InvalidState
from payfirst.gateways.base import GatewayError
from payfirst.payments.capture import SyncOutcome, sync_payment
from payfirst.payments.models import Payment
from payfirst.payments.reservations import release_and_move
from payfirst.payments.states import EventSource, PaymentStatus

logger = logging.getLogger("payfirst.payments")

S = PaymentStatus


def cancel_payment(*, payment_id: int, actor: User, source: str = EventSource.API) -> Payment:
    """Cancel a PENDING payment and release its reservations; anything else is InvalidState (409)."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != S.PENDING:
            raise InvalidState(f"Payment {payment.pk} is {payment.status.lower()} and cannot be cancelled.")
        release_and_move(
            payment=payment,
            to=S.CANCELLED,
            source=source,
            actor_id=actor.pk,
            detail="Cancelled by the customer." if source == EventSource.API else "Cancelled by staff.",
        )
    logger.info("payment cancelled", extra={"payment_id": payment.pk})
    return payment


def expire_payment(*, payment_id: int) -> bool:
    """Expire one PENDING payment past its expires_at and release its reservations. False if it is not (any more)."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != S.PENDING or payment.expires_at > timezone.now():
            return False
        release_and_move(payment=payment, to=S.EXPIRED, source=EventSource.EXPIRY, detail="Not paid before expiry.")
    logger.info("payment expired", extra={"payment_id": payment.pk})
    return True


def expire_stale_payments(*, limit: int = 200) -> Counter[str]:
    """Ask the gateway one last time about each PENDING payment past its expiry, then expire what is still unpaid.

    The last sync means a paid-but-unnotified payment is captured rather than expired. Safe to run concurrently:
    each payment is decided under its own row lock.
    """
    outcomes: Counter[str] = Counter()
    stale = list(
        Payment.objects.filter(status=S.PENDING, expires_at__lte=timezone.now()).order_by("expires_at", "pk")[:limit]
    )
    for payment in stale:
        if payment.gateway_order_id:
            try:
                outcome = sync_payment(payment=payment, source=EventSource.EXPIRY)
            except GatewayError as error:
                # Expire anyway: should the money turn up later, the late-capture path fulfils or refunds it.
                logger.warning(
                    "last status check before expiry failed; expiring anyway",
                    extra={"payment_id": payment.pk, "error": str(error)},
                )
                outcome = SyncOutcome.PENDING
            except DatabaseError:
                # The gateway says captured but recording it failed (rolled back): left PENDING for the next run and
                # for reconciliation, never expired, and it does not hold up the payments behind it.
                logger.exception("recording a capture found at expiry failed", extra={"payment_id": payment.pk})
                outcomes["errors"] += 1
                continue
            # Still unpaid (money merely authorised and left uncaptured is not paid): expire it.
            if outcome not in (SyncOutcome.PENDING, SyncOutcome.LEFT_UNCAPTURED):
                outcomes[outcome] += 1
                continue
        outcomes["expired" if expire_payment(payment_id=payment.pk) else SyncOutcome.UNCHANGED] += 1
    return outcomes
