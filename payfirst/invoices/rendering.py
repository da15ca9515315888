"""A document as printable HTML (a Django template) and as PDF (WeasyPrint renders that same HTML)."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from weasyprint import HTML

from payfirst.core.gstin import STATES, UTGST_CODES
from payfirst.invoices.models import Document, DocumentKind
from payfirst.invoices.tax import paise_text, rate_text


def _context(document: Document) -> dict[str, Any]:
    lines: list[dict[str, Any]] = []
    for line in document.lines.all():
        half = line.rate // 2
        lines.append(
            {
                "line": line,
                "place": f"{STATES.get(line.place_state_code, '')} ({line.place_state_code})",
                "rate": "Exempt" if line.exempt else f"{rate_text(line.rate)} %",
                "half_rate": rate_text(half),
                **{
                    name: paise_text(getattr(line, name))
                    for name in ("gross", "discount", "taxable_value", "cgst", "sgst", "igst", "total")
                },
            }
        )
    state_tax = "UTGST" if document.seller.get("state_code") in UTGST_CODES else "SGST"
    return {
        "document": document,
        "lines": lines,
        "state_tax": state_tax,
        "is_credit_note": document.kind == DocumentKind.CREDIT_NOTE,
        "has_exempt": any(line["line"].exempt for line in lines),
        "totals": {
            name: paise_text(getattr(document, name)) for name in ("taxable_value", "cgst", "sgst", "igst", "total")
        },
    }


def document_html(document: Document) -> str:
    return render_to_string("invoices/document.html", _context(document))


def document_pdf(document: Document) -> bytes:
    """The PDF. Fonts come from the system (fonts-dejavu-core has the ₹ sign); nothing is fetched over the network."""
    return HTML(string=document_html(document)).write_pdf()
