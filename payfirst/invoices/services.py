"""Issuing GST documents: the tax invoice and/or bill of supply for a capture, a credit note for a processed refund.

Payments calls these two services, inside its own transactions (the capture's, the refund's), with plain frozen
dataclasses defined here; this app never imports payments. Both are idempotent: a second call for the same payment
(or refund) returns what the first issued, and the database's unique constraints back that up.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Sum

from payfirst.core.gstin import STATES, gstin_problem, state_code_for
from payfirst.invoices.locks import LINE_KINDS, line_taxes
from payfirst.invoices.models import SERIES, Document, DocumentKind, DocumentLine
from payfirst.invoices.numbering import financial_year, format_number, local_day, take_number
from payfirst.invoices.tax import TaxSplit, credited_split, split_inclusive, spread

logger = logging.getLogger("payfirst.invoices")


@dataclass(frozen=True, slots=True)
class InvoiceLineInput:
    """One paid line. Exactly one of variant_id (goods), package_id or plan_id (services) is set."""

    source_id: int  # the payment line's id
    description: str
    quantity: int
    amount: int  # paise, tax included, before the discount (unit price × quantity)
    discount: int = 0  # paise, this line's share of the payment's discount
    variant_id: int | None = None
    package_id: int | None = None
    plan_id: int | None = None

    @property
    def is_service(self) -> bool:
        return self.variant_id is None


@dataclass(frozen=True, slots=True)
class BuyerInput:
    """Who paid: their name and email, and the billing and shipping addresses as they were at checkout (the Address
    API shape: full_name, address_line_1, address_line_2, city, state, postal_code, country, gstin)."""

    user_id: int
    name: str
    email: str = ""
    billing_address: Mapping[str, Any] | None = None
    shipping_address: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class _Classified:
    line: InvoiceLineInput
    hsn_sac: str
    rate: int
    exempt: bool


# ---------------------------------------------------------------------------------------------------------------
# Seller, buyer, place of supply
# ---------------------------------------------------------------------------------------------------------------


def seller_snapshot() -> dict[str, str]:
    code = state_code_for(settings.GST_SELLER_STATE) or settings.GST_SELLER_GSTIN[:2]
    return {
        "legal_name": settings.GST_SELLER_LEGAL_NAME,
        "address": settings.GST_SELLER_ADDRESS,
        "state": STATES.get(code, settings.GST_SELLER_STATE),
        "state_code": code,
        "gstin": settings.GST_SELLER_GSTIN,
    }


def _address_text(address: Mapping[str, Any]) -> str:
    parts = [address.get("address_line_1"), address.get("address_line_2"), address.get("city")]
    text = ", ".join(str(part) for part in parts if part)
    return f"{text} {address.get('postal_code') or ''}".strip()


def _buyer_gstin(buyer: BuyerInput) -> str:
    """The billing (else shipping) address's GSTIN when it is valid for that address's state; else ""."""
    for address in (buyer.billing_address, buyer.shipping_address):
        gstin = str((address or {}).get("gstin") or "").strip().upper()
        if gstin and not gstin_problem(gstin, state_code=state_code_for(str(address.get("state") or ""))):  # type: ignore[union-attr]
            return gstin
    return ""


def buyer_snapshot(buyer: BuyerInput) -> dict[str, str]:
    address = buyer.billing_address or buyer.shipping_address
    code = state_code_for(str(address.get("state") or "")) if address else None
    snapshot = {
        "name": (address or {}).get("full_name") or buyer.name,
        "email": buyer.email,
        "address": _address_text(address) if address else "",
        "state": STATES.get(code or "", str((address or {}).get("state") or "")),
        "state_code": code or "",
        "gstin": _buyer_gstin(buyer),
    }
    if buyer.shipping_address:
        snapshot["delivery_address"] = _address_text(buyer.shipping_address)
        snapshot["delivery_state"] = str(buyer.shipping_address.get("state") or "")
    return snapshot


def place_of_supply(*, line: InvoiceLineInput, buyer: BuyerInput, seller_code: str) -> str:
    """The state code where a line is supplied (IGST Act s.10 for goods, s.12(2) for these services):

    - goods: where the movement ends, the shipping address (s.10(1)(a)); else the billing address;
    - services (pujas, consultations, plans): a registered buyer's location, the state of their GSTIN (s.12(2)(a));
      an unregistered buyer's address on record, billing then shipping (s.12(2)(b)(i)); else the seller's own
      location (s.12(2)(b)(ii)).
    An address whose state cannot be read counts as no address on record."""
    gstin = _buyer_gstin(buyer)
    if line.is_service:
        if gstin:
            return gstin[:2]
        order = (buyer.billing_address, buyer.shipping_address)
    else:
        order = (buyer.shipping_address, buyer.billing_address)
    for address in order:
        code = state_code_for(str(address.get("state") or "")) if address else None
        if code:
            return code
    return seller_code


# ---------------------------------------------------------------------------------------------------------------
# Codes and rates
# ---------------------------------------------------------------------------------------------------------------


def _classify(lines: Sequence[InvoiceLineInput], *, day: date) -> list[_Classified]:
    """Each line's HSN/SAC and its rate on the day of supply, read from the catalog in one statement
    (`locks.line_taxes`). A row with no tax class, or a class with no period in force yet, gets the standard rate
    (GST_STANDARD_RATE)."""
    keys = [key for key, _ in LINE_KINDS]
    ids = {key: {getattr(line, key) for line in lines if getattr(line, key) is not None} for key in keys}
    taxes = line_taxes(ids=ids, day=day)
    classified = []
    for line in lines:
        key = next(k for k in keys if getattr(line, k) is not None)
        tax = taxes.get((key, getattr(line, key)))
        if tax is None or tax.rate is None:
            rate, exempt = settings.GST_STANDARD_RATE, False
        else:
            rate, exempt = tax.rate, tax.exempt
        classified.append(_Classified(line=line, hsn_sac=tax.hsn_sac if tax else "", rate=rate, exempt=exempt))
    return classified


def line_discounts(*, lines: Sequence[InvoiceLineInput], discount: int) -> list[int]:
    """The lines' discount shares: as given when they add up to `discount` (the cart decided which lines a promo
    applies to); otherwise `discount` spread over the lines' amounts by largest remainder."""
    given = [line.discount for line in lines]
    if sum(given) == discount and all(0 <= d <= line.amount for d, line in zip(given, lines, strict=True)):
        return given
    return spread(amount=discount, weights=[line.amount for line in lines])


# ---------------------------------------------------------------------------------------------------------------
# Issuing
# ---------------------------------------------------------------------------------------------------------------


def _save_document(
    *,
    kind: str,
    title: str,
    payment_id: int,
    user_id: int,
    issued_at: datetime,
    seller: dict[str, str],
    buyer: dict[str, str],
    place_code: str,
    lines: Sequence[tuple[DocumentLine, TaxSplit]],
    refund_id: int | None = None,
    refers_to: Document | None = None,
) -> Document:
    year = financial_year(local_day(issued_at))
    series = SERIES[kind]
    sequence = take_number(series=series, year=year)
    document = Document.objects.create(
        kind=kind,
        title=title,
        number=format_number(series=series, year=year, sequence=sequence),
        series=series,
        financial_year=year,
        sequence=sequence,
        payment_id=payment_id,
        refund_id=refund_id,
        refers_to=refers_to,
        user_id=user_id,
        issued_at=issued_at,
        seller=seller,
        buyer=buyer,
        place_of_supply={"state": STATES.get(place_code, ""), "state_code": place_code},
        taxable_value=sum(split.taxable_value for _, split in lines),
        cgst=sum(split.cgst for _, split in lines),
        sgst=sum(split.sgst for _, split in lines),
        igst=sum(split.igst for _, split in lines),
        total=sum(split.total for _, split in lines),
    )
    for position, (line, split) in enumerate(lines, start=1):
        line.document = document
        line.position = position
        line.taxable_value, line.cgst, line.sgst, line.igst = split.taxable_value, split.cgst, split.sgst, split.igst
        line.total = split.total
    DocumentLine.objects.bulk_create([line for line, _ in lines])
    return document


def _document_place(lines: Sequence[tuple[DocumentLine, TaxSplit]]) -> str:
    """The place of supply printed on the document: where its goods go when it has any, else its first line's (each
    line also carries its own)."""
    goods = [line.place_state_code for line, _ in lines if not line.is_service]
    return (goods or [lines[0][0].place_state_code])[0]


def issue_documents_for_capture(
    *,
    payment_id: int,
    captured_at: datetime,
    buyer: BuyerInput,
    lines: Sequence[InvoiceLineInput],
    discount: int,
) -> list[Document]:
    """The documents for a captured payment, issued once, in the caller's transaction (the capture's):

    - only taxable lines: one tax invoice (Rule 46);
    - only exempt lines: one bill of supply (Rule 49);
    - both, to an unregistered buyer: one "Invoice-cum-Bill of Supply" (Rule 46A), kind tax_invoice;
    - both, to a registered buyer (a valid GSTIN on the address): a tax invoice for the taxable lines and a bill of
      supply for the exempt ones.
    The date of supply is the capture's date in India; rates are those in force on it. Calling it again for the same
    payment returns the documents already issued. No savepoint of its own: inside the capture a failure here aborts
    the whole capture (it is retried as a whole), and outside one it still runs as one transaction."""
    with transaction.atomic(savepoint=False):
        existing = list(Document.objects.filter(payment_id=payment_id).exclude(kind=DocumentKind.CREDIT_NOTE))
        if existing or not lines:
            return existing
        seller = seller_snapshot()
        buyer_data = buyer_snapshot(buyer)
        built = _capture_lines(
            lines, day=local_day(captured_at), discount=discount, buyer=buyer, seller_code=seller["state_code"]
        )
        documents = [
            _save_document(
                kind=kind,
                title=title,
                place_code=_document_place(document_lines),
                lines=document_lines,
                payment_id=payment_id,
                user_id=buyer.user_id,
                issued_at=captured_at,
                seller=seller,
                buyer=buyer_data,
            )
            for kind, title, document_lines in _capture_documents(built, registered=bool(buyer_data["gstin"]))
        ]
    logger.info(
        "GST documents issued",
        extra={"payment_id": payment_id, "numbers": [document.number for document in documents]},
    )
    return documents


def _capture_lines(
    lines: Sequence[InvoiceLineInput], *, day: date, discount: int, buyer: BuyerInput, seller_code: str
) -> dict[bool, list[tuple[DocumentLine, TaxSplit]]]:
    """The capture's document lines (not saved) with their tax, keyed by whether they are exempt: goods first, then
    services, each in the payment's order."""
    classified = _classify(lines, day=day)
    shares = line_discounts(lines=lines, discount=discount)
    built: dict[bool, list[tuple[DocumentLine, TaxSplit]]] = defaultdict(list)
    for index in sorted(range(len(lines)), key=lambda i: lines[i].is_service):
        item = classified[index]
        line = item.line
        place = place_of_supply(line=line, buyer=buyer, seller_code=seller_code)
        split = split_inclusive(
            value=line.amount - shares[index], rate=item.rate, intra_state=place == seller_code, exempt=item.exempt
        )
        document_line = DocumentLine(
            source_line_id=line.source_id,
            description=line.description[:255],
            hsn_sac=item.hsn_sac,
            is_service=line.is_service,
            quantity=line.quantity,
            unit="NA" if line.is_service else "NOS",  # a Unique Quantity Code for goods only
            rate=0 if item.exempt else item.rate,
            exempt=item.exempt,
            place_state_code=place,
            gross=line.amount,
            discount=shares[index],
        )
        built[item.exempt].append((document_line, split))
    return built


def _capture_documents(
    built: dict[bool, list[tuple[DocumentLine, TaxSplit]]], *, registered: bool
) -> list[tuple[str, str, list[tuple[DocumentLine, TaxSplit]]]]:
    """(kind, title, lines) of each document the capture's lines make (see issue_documents_for_capture)."""
    taxable, exempt = built[False], built[True]
    if taxable and exempt and not registered:
        return [(DocumentKind.TAX_INVOICE, "Invoice-cum-Bill of Supply", taxable + exempt)]
    return [
        *([(DocumentKind.TAX_INVOICE, "Tax Invoice", taxable)] if taxable else []),
        *([(DocumentKind.BILL_OF_SUPPLY, "Bill of Supply", exempt)] if exempt else []),
    ]


def issue_credit_notes_for_refund(
    *, payment_id: int, refund_id: int, amount: int, processed_at: datetime
) -> list[Document]:
    """Credit notes for a processed refund of `amount` paise, in the caller's transaction (the one that marks the
    refund PROCESSED), one per document of the payment that the refund touches, each referring to it (Rule 53).

    The refund is spread over the documents' lines in proportion to what each line has not yet had credited
    (largest remainder), and each line's taxes are credited cumulatively (tax.credited_split), so a payment refunded
    in full, in one go or in parts, has every invoice line and every tax reversed to the paisa. A payment with no
    documents (money never invoiced, e.g. a flagged payment) gets none. Idempotent per refund."""
    with transaction.atomic():
        existing = list(Document.objects.filter(kind=DocumentKind.CREDIT_NOTE, refund_id=refund_id))
        if existing:
            return existing
        originals = list(
            Document.objects.select_for_update()
            .filter(payment_id=payment_id)
            .exclude(kind=DocumentKind.CREDIT_NOTE)
            .order_by("id")
        )
        if not originals:
            return []
        invoice_lines = list(DocumentLine.objects.filter(document__in=originals).order_by("document_id", "position"))
        credited = dict(
            DocumentLine.objects.filter(credits_line__in=invoice_lines)
            .values_list("credits_line_id")
            .annotate(done=Sum("total"))
        )
        remaining = [line.total - credited.get(line.pk, 0) for line in invoice_lines]
        if amount > sum(remaining):
            logger.error(
                "refund exceeds what the payment's documents can still credit; credited up to that",
                extra={"payment_id": payment_id, "refund_id": refund_id, "amount": amount},
            )
        shares = spread(amount=min(amount, sum(remaining)), weights=remaining)
        by_document: dict[int, list[tuple[DocumentLine, TaxSplit]]] = defaultdict(list)
        for line, share in zip(invoice_lines, shares, strict=True):
            if share == 0:
                continue
            before = credited.get(line.pk, 0)
            original = TaxSplit(taxable_value=line.taxable_value, cgst=line.cgst, sgst=line.sgst, igst=line.igst)
            split = credited_split(original=original, before=before, after=before + share)
            by_document[line.document_id].append(
                (
                    DocumentLine(
                        source_line_id=line.source_line_id,
                        credits_line=line,
                        description=line.description,
                        hsn_sac=line.hsn_sac,
                        is_service=line.is_service,
                        quantity=line.quantity,
                        unit=line.unit,
                        rate=line.rate,
                        exempt=line.exempt,
                        place_state_code=line.place_state_code,
                        gross=share,
                        discount=0,
                    ),
                    split,
                )
            )
        notes = []
        for original_doc in originals:
            if original_doc.pk not in by_document:
                continue
            notes.append(
                _save_document(
                    kind=DocumentKind.CREDIT_NOTE,
                    title="Credit Note",
                    payment_id=payment_id,
                    user_id=original_doc.user_id,
                    issued_at=processed_at,
                    seller=seller_snapshot(),
                    buyer=original_doc.buyer,
                    place_code=original_doc.place_of_supply["state_code"],
                    lines=by_document[original_doc.pk],
                    refund_id=refund_id,
                    refers_to=original_doc,
                )
            )
    logger.info("credit notes issued", extra={"refund_id": refund_id, "numbers": [note.number for note in notes]})
    return notes
