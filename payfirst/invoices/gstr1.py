"""The month's documents as CSV tables shaped like the GSTR-1 offline tool's sheets, for the return's preparation.

Tables (columns as the offline tool names them; amounts in rupees with two decimals, from integer paise):
- b2b: tax invoices to registered buyers, one row per invoice and rate.
- b2cl: inter-state tax invoices to unregistered buyers above B2CL_LIMIT, one row per invoice and rate.
- b2cs: every other tax invoice to an unregistered buyer, summed by place of supply and rate, less the credit notes
  of the month against such invoices (the return nets them there).
- cdnr: credit notes to registered buyers, one row per note and rate.
- cdnur: credit notes against b2cl invoices, one row per note and rate.
- exemp: exempt supplies (bills of supply and the exempt lines of invoices-cum-bills of supply), by inter/intra-state
  and registered/unregistered buyer.
- docs: the document series used in the month, first and last number and count.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time
from pathlib import Path

from payfirst.core.gstin import STATES
from payfirst.invoices.models import Document, DocumentKind, DocumentLine
from payfirst.invoices.numbering import INDIA
from payfirst.invoices.tax import paise_text, rate_text

B2CL_LIMIT = 100_000_00  # paise: ₹1,00,000 for an inter-state invoice to an unregistered buyer

HEADERS: dict[str, list[str]] = {
    "b2b": [
        "GSTIN/UIN of Recipient",
        "Receiver Name",
        "Invoice Number",
        "Invoice date",
        "Invoice Value",
        "Place Of Supply",
        "Reverse Charge",
        "Applicable % of Tax Rate",
        "Invoice Type",
        "E-Commerce GSTIN",
        "Rate",
        "Taxable Value",
        "Cess Amount",
    ],
    "b2cl": [
        "Invoice Number",
        "Invoice date",
        "Invoice Value",
        "Place Of Supply",
        "Applicable % of Tax Rate",
        "Rate",
        "Taxable Value",
        "Cess Amount",
        "E-Commerce GSTIN",
    ],
    "b2cs": [
        "Type",
        "Place Of Supply",
        "Rate",
        "Applicable % of Tax Rate",
        "Taxable Value",
        "Cess Amount",
        "E-Commerce GSTIN",
    ],
    "cdnr": [
        "GSTIN/UIN of Recipient",
        "Receiver Name",
        "Note Number",
        "Note Date",
        "Note Type",
        "Place Of Supply",
        "Reverse Charge",
        "Note Supply Type",
        "Note Value",
        "Applicable % of Tax Rate",
        "Rate",
        "Taxable Value",
        "Cess Amount",
    ],
    "cdnur": [
        "UR Type",
        "Note Number",
        "Note Date",
        "Note Type",
        "Place Of Supply",
        "Note Value",
        "Applicable % of Tax Rate",
        "Rate",
        "Taxable Value",
        "Cess Amount",
    ],
    "exemp": ["Description", "Nil Rated Supplies", "Exempted(other than nil rated/non GST supply)", "Non-GST Supplies"],
    "docs": ["Nature of Document", "Sr. No. From", "Sr. No. To", "Total Number", "Cancelled"],
}
_NATURE: dict[str, str] = {  # by Document.kind
    DocumentKind.TAX_INVOICE: "Invoices for outward supply",
    DocumentKind.BILL_OF_SUPPLY: "Bill of Supply",
    DocumentKind.CREDIT_NOTE: "Credit Note",
}


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The month `YYYY-MM` in India as [start, end) aware datetimes. Raises ValueError for anything else."""
    start = datetime.strptime(month, "%Y-%m").date()
    end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return (datetime.combine(start, time(), tzinfo=INDIA), datetime.combine(end, time(), tzinfo=INDIA))


def _place(code: str) -> str:
    return f"{code}-{STATES.get(code, '')}"


def _day(document: Document) -> str:
    return document.issued_at.astimezone(INDIA).strftime("%d-%b-%Y")


def _by_rate(lines: Iterable[DocumentLine]) -> dict[int, int]:
    """Taxable value (paise) per rate of a document's taxable lines."""
    rates: dict[int, int] = defaultdict(int)
    for line in lines:
        if not line.exempt:
            rates[line.rate] += line.taxable_value
    return rates


def _is_b2cl(document: Document, seller_code: str) -> bool:
    return document.place_of_supply["state_code"] != seller_code and document.total > B2CL_LIMIT


def build_tables(*, month: str) -> dict[str, list[list[str]]]:
    start, end = month_bounds(month)
    documents = list(
        Document.objects.filter(issued_at__gte=start, issued_at__lt=end)
        .select_related("refers_to")
        .prefetch_related("lines")
        .order_by("series", "sequence")
    )
    tables: dict[str, list[list[str]]] = {name: [] for name in HEADERS}
    b2cs: dict[tuple[str, int], int] = defaultdict(int)
    exempt: dict[str, int] = defaultdict(int)
    series: dict[str, list[Document]] = defaultdict(list)
    for document in documents:
        series[document.series].append(document)
        gstin = document.buyer.get("gstin", "")
        seller_code = document.seller["state_code"]
        place = document.place_of_supply["state_code"]
        lines = list(document.lines.all())
        if document.kind == DocumentKind.CREDIT_NOTE:
            original = document.refers_to or document  # the database's check: a credit note refers to one
            for rate, taxable in _by_rate(lines).items():
                if gstin:
                    tables["cdnr"].append(
                        [
                            gstin,
                            document.buyer.get("name", ""),
                            document.number,
                            _day(document),
                            "C",
                            _place(place),
                            "N",
                            "Regular B2B",
                            paise_text(document.total),
                            "",
                            rate_text(rate),
                            paise_text(taxable),
                            "0.00",
                        ]
                    )
                elif _is_b2cl(original, seller_code):
                    tables["cdnur"].append(
                        [
                            "B2CL",
                            document.number,
                            _day(document),
                            "C",
                            _place(place),
                            paise_text(document.total),
                            "",
                            rate_text(rate),
                            paise_text(taxable),
                            "0.00",
                        ]
                    )
                else:
                    b2cs[place, rate] -= taxable
            continue
        for line in lines:
            if line.exempt:
                inter = "Inter-State" if line.place_state_code != seller_code else "Intra-State"
                who = "registered persons" if gstin else "unregistered persons"
                exempt[f"{inter} supplies to {who}"] += line.taxable_value
        for rate, taxable in _by_rate(lines).items():
            if gstin:
                tables["b2b"].append(
                    [
                        gstin,
                        document.buyer.get("name", ""),
                        document.number,
                        _day(document),
                        paise_text(document.total),
                        _place(place),
                        "N",
                        "",
                        "Regular B2B",
                        "",
                        rate_text(rate),
                        paise_text(taxable),
                        "0.00",
                    ]
                )
            elif _is_b2cl(document, seller_code):
                tables["b2cl"].append(
                    [
                        document.number,
                        _day(document),
                        paise_text(document.total),
                        _place(place),
                        "",
                        rate_text(rate),
                        paise_text(taxable),
                        "0.00",
                        "",
                    ]
                )
            else:
                b2cs[place, rate] += taxable
    tables["b2cs"] = [
        ["OE", _place(place), rate_text(rate), "", paise_text(taxable), "0.00", ""]
        for (place, rate), taxable in sorted(b2cs.items())
    ]
    tables["exemp"] = [
        [description, "0.00", paise_text(exempt.get(description, 0)), "0.00"]
        for description in (
            "Inter-State supplies to registered persons",
            "Intra-State supplies to registered persons",
            "Inter-State supplies to unregistered persons",
            "Intra-State supplies to unregistered persons",
        )
    ]
    tables["docs"] = [
        [_NATURE[docs[0].kind], docs[0].number, docs[-1].number, str(len(docs)), "0"]
        for _, docs in sorted(series.items())
    ]
    return tables


def write_tables(*, month: str, directory: Path) -> dict[str, int]:
    """Write one CSV per table into `directory` (created if missing). Returns the row count of each."""
    directory.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, rows in build_tables(month=month).items():
        with (directory / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADERS[name])
            writer.writerows(rows)
        counts[name] = len(rows)
    return counts
