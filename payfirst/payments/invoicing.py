"""The payments side of GST documents: builds the invoices app's plain inputs from a payment and hands them over.

Called inside the capture's transaction (right after fulfilment, or with an automatic refund) and inside the
transaction that marks a refund PROCESSED, so a document exists exactly when the money moved.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from payfirst.fulfilment.services import FulfilmentLine
from payfirst.invoices.services import (
    BuyerInput,
    InvoiceLineInput,
    issue_credit_notes_for_refund,
    issue_documents_for_capture,
)
from payfirst.payments.models import Payment, Refund


def issue_capture_documents(*, payment: Payment, lines: Sequence[FulfilmentLine], captured_at: datetime) -> None:
    """The tax invoice and/or bill of supply for the money this capture took (once per payment)."""
    address = payment.billing_address or payment.shipping_address
    # The recipient's name is the address's; the account is read only when there is no address.
    name, email = (address["full_name"], "") if address else (payment.user.full_name, payment.user.email)
    issue_documents_for_capture(
        payment_id=payment.pk,
        captured_at=captured_at,
        buyer=BuyerInput(
            user_id=payment.user_id,
            name=name,
            email=email,
            billing_address=payment.billing_address,
            shipping_address=payment.shipping_address,
        ),
        lines=[
            InvoiceLineInput(
                source_id=line.id,
                description=line.name,
                quantity=line.quantity,
                amount=line.line_total,
                discount=line.discount,
                variant_id=line.variant_id,
                package_id=line.package_id,
                plan_id=line.plan_id,
            )
            for line in lines
        ],
        discount=payment.discount,
    )


def issue_refund_credit_notes(*, refund: Refund, processed_at: datetime) -> None:
    """Credit notes for a refund that has just been processed, referring to the payment's documents."""
    issue_credit_notes_for_refund(
        payment_id=refund.payment_id, refund_id=refund.pk, amount=refund.amount, processed_at=processed_at
    )
