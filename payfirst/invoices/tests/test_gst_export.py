"""manage.py gst_export: the month's documents as GSTR-1-shaped CSV tables."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from payfirst.invoices.models import Document
from payfirst.invoices.services import InvoiceLineInput, issue_credit_notes_for_refund, issue_documents_for_capture
from payfirst.invoices.tests import inputs as f
from payfirst.testing.factories import make_package, make_variant

pytestmark = pytest.mark.django_db
NOV_10 = f.at(2026, 11, 10)


def read(directory: Path, name: str) -> list[dict[str, str]]:
    with (directory / f"{name}.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_months_tables(user, tmp_path):
    standard, ceremony = f.standard(), f.ceremony()
    small = make_variant(price=118000, hsn_sac="7418", tax_class=standard)
    large = make_variant(
        price=11800000, hsn_sac="7418", tax_class=standard
    )  # ₹1,18,000 inter-state to a consumer: B2CL
    puja = make_package(price=210000, hsn_sac="9995", tax_class=ceremony)

    def issue(
        payment_id: int, lines: Sequence[InvoiceLineInput], when: datetime = NOV_10, **buyer: Any
    ) -> list[Document]:
        return issue_documents_for_capture(
            payment_id=payment_id, captured_at=when, buyer=f.buyer(user, **buyer), lines=lines, discount=0
        )

    (b2b,) = issue(1, [f.goods_line(small)], gstin=f.B2B_GSTIN_KA)
    issue(2, [f.goods_line(small)], state="Kerala")
    issue(3, [f.goods_line(small)], state="Kerala")
    (b2cl,) = issue(4, [f.goods_line(large)], state="Kerala")
    issue(5, [f.service_line(puja)])
    issue(6, [f.goods_line(small)], when=f.at(2026, 12, 1, 0, 0))  # next month: left out
    issue_credit_notes_for_refund(payment_id=1, refund_id=1, amount=118000, processed_at=f.at(2026, 11, 20))
    issue_credit_notes_for_refund(payment_id=4, refund_id=2, amount=1180000, processed_at=f.at(2026, 11, 20))
    issue_credit_notes_for_refund(payment_id=3, refund_id=3, amount=59000, processed_at=f.at(2026, 11, 20))

    call_command("gst_export", "--month", "2026-11", "--out", str(tmp_path))

    (row,) = read(tmp_path, "b2b")
    assert (row["GSTIN/UIN of Recipient"], row["Invoice Number"], row["Invoice date"]) == (
        f.B2B_GSTIN_KA,
        b2b.number,
        "10-Nov-2026",
    )
    assert (row["Invoice Value"], row["Place Of Supply"], row["Rate"], row["Taxable Value"]) == (
        "1,180.00",
        "29-Karnataka",
        "18.00",
        "1,000.00",
    )
    (row,) = read(tmp_path, "b2cl")
    assert (row["Invoice Number"], row["Place Of Supply"], row["Taxable Value"]) == (
        b2cl.number,
        "32-Kerala",
        "1,00,000.00",
    )
    (row,) = read(tmp_path, "b2cs")
    # Two ₹1,000 + tax sales to Kerala, less the credit note of half of one: ₹1,500 taxable.
    assert (row["Type"], row["Place Of Supply"], row["Rate"], row["Taxable Value"]) == (
        "OE",
        "32-Kerala",
        "18.00",
        "1,500.00",
    )
    (row,) = read(tmp_path, "cdnr")
    assert (row["GSTIN/UIN of Recipient"], row["Note Type"], row["Note Value"], row["Taxable Value"]) == (
        f.B2B_GSTIN_KA,
        "C",
        "1,180.00",
        "1,000.00",
    )
    (row,) = read(tmp_path, "cdnur")
    assert (row["UR Type"], row["Note Value"], row["Taxable Value"]) == ("B2CL", "11,800.00", "10,000.00")
    exempt = {r["Description"]: r["Exempted(other than nil rated/non GST supply)"] for r in read(tmp_path, "exemp")}
    assert exempt["Intra-State supplies to unregistered persons"] == "2,100.00"
    docs = {r["Nature of Document"]: r for r in read(tmp_path, "docs")}
    assert docs["Invoices for outward supply"]["Total Number"] == "4"
    assert docs["Invoices for outward supply"]["Sr. No. To"] == "INV/2627/000004"
    assert docs["Credit Note"]["Total Number"] == "3" and docs["Bill of Supply"]["Total Number"] == "1"


@pytest.mark.parametrize("month", ["2026-13", "Nov", "2026-1"])
def test_a_bad_month_is_refused(month, tmp_path):
    with pytest.raises(CommandError):
        call_command("gst_export", "--month", month, "--out", str(tmp_path))
