"""Sending a recorded refund to its gateway and applying the gateway's answer; the task that does it off-request.

A Refund row is written first (PENDING, with its own reference); the gateway call happens with no transaction
open, under that reference as the gateway's idempotency key, so a retry never refunds twice.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from payfirst.core.money import Paise
from payfirst.gateways.base import GatewayError
from payfirst.gateways.base import RefundStatus as GatewayRefundStatus
from payfirst.gateways.registry import get_gateway
from payfirst.payments.models import Payment, PaymentEvent, Refund, RefundStatus
from payfirst.payments.states import EventSource, PaymentStatus, transition

logger = logging.getLogger("payfirst.payments")


def send_refund(*, refund_id: int, source: str = EventSource.API) -> str:
    """Send a PENDING refund to the gateway, then record the answer. Returns the refund's status afterwards.

    Raises GatewayError when the gateway cannot answer; the refund then stays PENDING with the error noted, and
    sending it again is safe.
    """
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status != RefundStatus.PENDING or refund.gateway_refund_id:
        return refund.status
    payment = refund.payment
    Refund.objects.filter(pk=refund.pk).update(attempts=refund.attempts + 1)
    try:
        answer = get_gateway(payment.gateway).refund(
            gateway_order_id=payment.gateway_order_id,
            gateway_payment_id=payment.gateway_payment_id,
            amount=Paise(refund.amount),
            reference=refund.reference,
        )
    except GatewayError as error:
        Refund.objects.filter(pk=refund.pk).update(error=str(error)[:2000])
        logger.warning(
            "refund could not be sent; it stays pending", extra={"refund_id": refund.pk, "error": str(error)}
        )
        raise
    return apply_refund_status(
        refund_id=refund.pk, gateway_refund_id=answer.gateway_refund_id, status=answer.status, source=source
    )


def apply_refund_status(*, refund_id: int, gateway_refund_id: str, status: str, source: str) -> str:
    """Record what the gateway says about a refund, once. PROCESSED adds its amount to the payment's refunded amount
    and moves the payment to PARTIALLY_REFUNDED or REFUNDED. Locks the payment row, then the refund row."""
    with transaction.atomic():
        payment_id = Refund.objects.values_list("payment_id", flat=True).get(pk=refund_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status != RefundStatus.PENDING:
            return refund.status
        if status == GatewayRefundStatus.PROCESSED:
            Refund.objects.filter(pk=refund.pk).update(
                status=RefundStatus.PROCESSED, gateway_refund_id=gateway_refund_id, processed_at=timezone.now(),
                error="",
            )  # fmt: skip
            refunded = payment.refunded_amount + refund.amount
            target = PaymentStatus.REFUNDED if refunded >= payment.amount else PaymentStatus.PARTIALLY_REFUNDED
            detail = f"Refund {refund.reference} of {refund.amount} paise processed: {refund.reason}"
            if payment.status == target:
                # A second partial refund: no state change, but the amount moves and the trail says so.
                Payment.objects.filter(pk=payment.pk).update(refunded_amount=refunded)
                PaymentEvent.objects.create(
                    payment=payment, from_status=payment.status, to_status=target, source=source, detail=detail
                )
            else:
                transition(
                    payment=payment, to=target, source=source, detail=detail, fields={"refunded_amount": refunded}
                )
            logger.info("refund processed", extra={"refund_id": refund.pk, "payment_id": payment.pk})
            return RefundStatus.PROCESSED
        if status == GatewayRefundStatus.FAILED:
            Refund.objects.filter(pk=refund.pk).update(status=RefundStatus.FAILED, gateway_refund_id=gateway_refund_id)
            logger.error("refund failed at the gateway", extra={"refund_id": refund.pk, "payment_id": payment.pk})
            return RefundStatus.FAILED
        Refund.objects.filter(pk=refund.pk).update(gateway_refund_id=gateway_refund_id, error="")
        return RefundStatus.PENDING


@task(queue_name="default")
def send_refund_task(refund_id: int) -> str:
    """Send one recorded refund (automatic refunds are queued by the capture that records them)."""
    return send_refund(refund_id=refund_id, source=EventSource.RECONCILE)
