"""Issuing documents: which documents a payment gets, intra- vs inter-state tax, the rate in force on the day of
supply, numbering across a financial year's boundary, exactly once, and credit notes for partial and full refunds."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from payfirst.accounts.models import User
from payfirst.invoices.models import Document, DocumentCounter, DocumentKind
from payfirst.invoices.numbering import financial_year, format_number
from payfirst.invoices.services import InvoiceLineInput, issue_credit_notes_for_refund, issue_documents_for_capture
from payfirst.invoices.tests import inputs as f
from payfirst.testing.factories import make_package, make_plan, make_variant

pytestmark = pytest.mark.django_db
NUMBER = re.compile(r"^[A-Za-z0-9/-]{1,16}$")


def issue(
    user: User,
    lines: Sequence[InvoiceLineInput],
    *,
    when: datetime | None = None,
    discount: int = 0,
    payment_id: int | None = None,
    **buyer: Any,
) -> list[Document]:
    return issue_documents_for_capture(
        payment_id=payment_id or f._ids.__next__(),
        captured_at=when or f.at(2026, 11, 20),
        buyer=f.buyer(user, **buyer),
        lines=lines,
        discount=discount,
    )


def test_intra_state_goods_get_a_tax_invoice_with_cgst_and_sgst_halves(user):
    diya = make_variant(price=44900, hsn_sac="7418", tax_class=f.brassware())
    (invoice,) = issue(user, [f.goods_line(diya, 2)])
    assert invoice.kind == DocumentKind.TAX_INVOICE and invoice.title == "Tax Invoice"
    assert invoice.number == "INV/2627/000001" and NUMBER.match(invoice.number)
    assert invoice.place_of_supply == {"state": "Karnataka", "state_code": "29"}
    (line,) = invoice.lines.all()
    # ₹898 at 5 % (brassware since 22 Sep 2025): taxable 855.24, tax 42.76 = 21.38 + 21.38.
    assert (line.hsn_sac, line.rate, line.taxable_value, line.cgst, line.sgst, line.igst) == (
        "7418",
        500,
        85524,
        2138,
        2138,
        0,
    )
    assert (invoice.taxable_value, invoice.cgst, invoice.sgst, invoice.igst, invoice.total) == (
        85524,
        2138,
        2138,
        0,
        89800,
    )
    assert invoice.seller["gstin"] == "29AAKCS4821M1ZS" and invoice.buyer["gstin"] == ""


def test_inter_state_goods_get_igst_at_the_full_rate(user):
    kurta = make_variant(price=129900, hsn_sac="6205", tax_class=f.standard())
    (invoice,) = issue(user, [f.goods_line(kurta)], state="Maharashtra")
    assert invoice.place_of_supply["state_code"] == "27"
    assert (invoice.taxable_value, invoice.cgst, invoice.sgst, invoice.igst) == (110085, 0, 0, 19815)


def test_services_follow_the_billing_address_goods_the_shipping_address(user):
    lamp = make_variant(price=100000, hsn_sac="7418", tax_class=f.standard())
    course = make_plan(price=100000, hsn_sac="9992", tax_class=f.standard())
    (invoice,) = issue(user, [f.plan_line(course), f.goods_line(lamp)], state="Maharashtra", billing_state="Karnataka")
    goods, service = invoice.lines.all()  # goods first
    assert (goods.place_state_code, goods.igst > 0, goods.cgst) == ("27", True, 0)
    assert (service.place_state_code, service.igst, service.cgst > 0) == ("29", 0, True)
    assert invoice.place_of_supply["state_code"] == "27"


def test_a_registered_buyer_gets_a_b2b_invoice_placed_at_their_gstin(user):
    course = make_plan(price=118000, hsn_sac="9992", tax_class=f.standard())
    (invoice,) = issue(user, [f.plan_line(course)], state="Karnataka", gstin=f.B2B_GSTIN_KA)
    assert invoice.buyer["gstin"] == f.B2B_GSTIN_KA and invoice.place_of_supply["state_code"] == "29"
    assert (invoice.taxable_value, invoice.cgst, invoice.sgst) == (100000, 9000, 9000)


def test_a_gstin_of_another_state_than_its_address_is_ignored(user):
    course = make_plan(price=118000, hsn_sac="9992", tax_class=f.standard())
    (invoice,) = issue(user, [f.plan_line(course)], state="Karnataka", gstin=f.B2B_GSTIN_MH)
    assert invoice.buyer["gstin"] == ""


def test_an_unreadable_state_counts_as_no_address_and_the_supply_stays_in_the_sellers_state(user):
    course = make_plan(price=118000, hsn_sac="9992", tax_class=f.standard())
    (invoice,) = issue(user, [f.plan_line(course)], state="Atlantis")
    assert invoice.place_of_supply["state_code"] == "29" and invoice.cgst == 9000


def test_exempt_services_get_a_bill_of_supply(user):
    puja = make_package(price=210000, hsn_sac="9995", tax_class=f.ceremony())
    (bill,) = issue(user, [f.service_line(puja)])
    assert (bill.kind, bill.title, bill.number) == (DocumentKind.BILL_OF_SUPPLY, "Bill of Supply", "BOS/2627/000001")
    (line,) = bill.lines.all()
    assert (line.exempt, line.rate, line.taxable_value, line.cgst + line.sgst + line.igst) == (True, 0, 210000, 0)


def test_a_mixed_payment_of_a_consumer_gets_one_invoice_cum_bill_of_supply(user):
    diya = make_variant(price=44900, hsn_sac="7418", tax_class=f.brassware())
    puja = make_package(price=210000, hsn_sac="9995", tax_class=f.ceremony())
    (document,) = issue(user, [f.service_line(puja), f.goods_line(diya)])
    assert (document.kind, document.title) == (DocumentKind.TAX_INVOICE, "Invoice-cum-Bill of Supply")
    goods, ceremony = document.lines.all()
    assert (goods.exempt, ceremony.exempt) == (False, True)
    assert document.total == 254900 and document.cgst == 1069


def test_a_mixed_payment_of_a_registered_buyer_gets_a_tax_invoice_and_a_bill_of_supply(user):
    diya = make_variant(price=44900, hsn_sac="7418", tax_class=f.brassware())
    puja = make_package(price=210000, hsn_sac="9995", tax_class=f.ceremony())
    invoice, bill = issue(user, [f.service_line(puja), f.goods_line(diya)], gstin=f.B2B_GSTIN_KA)
    assert (invoice.kind, invoice.total, invoice.number) == (DocumentKind.TAX_INVOICE, 44900, "INV/2627/000001")
    assert (bill.kind, bill.total, bill.number) == (DocumentKind.BILL_OF_SUPPLY, 210000, "BOS/2627/000001")


def test_the_rate_is_the_one_in_force_on_the_day_of_supply(user):
    brass = f.brassware()
    diya = make_variant(price=11200, hsn_sac="7418", tax_class=brass)
    (before,) = issue(user, [f.goods_line(diya)], when=f.at(2025, 9, 21, 23, 59))
    (after,) = issue(user, [f.goods_line(diya)], when=f.at(2025, 9, 22, 0, 1))
    assert before.lines.get().rate == 1200 and before.taxable_value == 10000
    assert after.lines.get().rate == 500 and after.taxable_value == 10667


def test_an_item_without_a_tax_class_is_taxed_at_the_standard_rate(user):
    thing = make_variant(price=11800, hsn_sac="")
    (invoice,) = issue(user, [f.goods_line(thing)])
    assert invoice.lines.get().rate == 1800 and invoice.taxable_value == 10000


def test_the_discount_is_taken_before_the_tax_and_the_lines_add_up_to_what_was_paid(user):
    standard = f.standard()
    items = [make_variant(price=price, hsn_sac="7418", tax_class=standard) for price in (33333, 66667, 12345)]
    lines = [f.goods_line(item) for item in items]
    (invoice,) = issue(user, lines, discount=10001)  # no shares given: spread by largest remainder
    assert invoice.total == 33333 + 66667 + 12345 - 10001
    assert sum(line.discount for line in invoice.lines.all()) == 10001
    assert sum(line.total for line in invoice.lines.all()) == invoice.total
    assert invoice.taxable_value + invoice.cgst + invoice.sgst + invoice.igst == invoice.total


def test_given_discount_shares_are_kept(user):
    standard = f.standard()
    a, b = (
        make_variant(price=50000, hsn_sac="7418", tax_class=standard),
        make_variant(price=50000, hsn_sac="7418", tax_class=standard),
    )
    (invoice,) = issue(user, [f.goods_line(a, discount=0), f.goods_line(b, discount=5000)], discount=5000)
    assert [line.discount for line in invoice.lines.all()] == [0, 5000]


def test_documents_are_issued_once_per_payment(user):
    diya = make_variant(price=44900, hsn_sac="7418", tax_class=f.brassware())
    first = issue(user, [f.goods_line(diya)], payment_id=777)
    again = issue(user, [f.goods_line(diya)], payment_id=777)
    assert [d.pk for d in first] == [d.pk for d in again]
    assert Document.objects.filter(payment_id=777).count() == 1
    assert DocumentCounter.objects.get(series="INV").last_number == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        Document.objects.create(**{**_fields(first[0]), "number": "INV/2627/999999", "sequence": 999999})


def _fields(document: Document) -> dict[str, Any]:
    names = [f.name for f in Document._meta.concrete_fields if f.name not in ("id", "created_at")]
    return {name: getattr(document, name) for name in names}


def test_numbers_restart_in_each_financial_year_and_stay_consecutive(user):
    standard = f.standard()
    item = make_variant(price=11800, hsn_sac="7418", tax_class=standard)
    times = [f.at(2027, 3, 31, 23, 58), f.at(2027, 3, 31, 23, 59), f.at(2027, 4, 1, 0, 0), f.at(2027, 4, 1, 0, 1)]
    numbers = [issue(user, [f.goods_line(item)], when=when)[0].number for when in times]
    assert numbers == ["INV/2627/000001", "INV/2627/000002", "INV/2728/000001", "INV/2728/000002"]
    # A rolled-back issue gives its number back: the next one takes it.
    with pytest.raises(RuntimeError), transaction.atomic():
        issue(user, [f.goods_line(item)], when=times[-1])
        raise RuntimeError("the capture failed after the invoice")
    assert issue(user, [f.goods_line(item)], when=times[-1])[0].number == "INV/2728/000003"


def test_number_format_and_financial_years():
    assert financial_year(date(2026, 3, 31)) == "2025-26" and financial_year(date(2026, 4, 1)) == "2026-27"
    assert financial_year(date(2099, 12, 31)) == "2099-00"
    assert format_number(series="INV", year="2026-27", sequence=123) == "INV/2627/000123"
    assert len(format_number(series="INV", year="2026-27", sequence=9_999_999)) == 16
    with pytest.raises(ValueError):
        format_number(series="INV", year="2026-27", sequence=10_000_000)


def test_credit_notes_for_a_partial_then_the_full_refund_reverse_the_invoice_exactly(user):
    standard, brass = f.standard(), f.brassware()
    lines = [
        f.goods_line(make_variant(price=44900, hsn_sac="7418", tax_class=brass), 3),
        f.plan_line(make_plan(price=99900, hsn_sac="9992", tax_class=standard)),
    ]
    (invoice,) = issue(user, lines, payment_id=901, state="Maharashtra", billing_state="Karnataka")
    first = issue_credit_notes_for_refund(payment_id=901, refund_id=1, amount=100001, processed_at=f.at(2026, 11, 25))
    (note,) = first
    assert (note.kind, note.refers_to, note.number, note.total) == (
        DocumentKind.CREDIT_NOTE,
        invoice,
        "CN/2627/000001",
        100001,
    )
    assert note.buyer == invoice.buyer and note.place_of_supply == invoice.place_of_supply
    # The same refund again (a replayed webhook): nothing new.
    assert (
        issue_credit_notes_for_refund(payment_id=901, refund_id=1, amount=100001, processed_at=f.at(2026, 11, 26))
        == first
    )
    rest = invoice.total - 100001
    (second,) = issue_credit_notes_for_refund(payment_id=901, refund_id=2, amount=rest, processed_at=f.at(2026, 12, 2))
    assert second.number == "CN/2627/000002"
    for name in ("taxable_value", "cgst", "sgst", "igst", "total"):
        assert getattr(note, name) + getattr(second, name) == getattr(invoice, name), name
    for line in invoice.lines.all():
        credited = line.credited_by.all()
        assert sum(c.total for c in credited) == line.total
        assert sum(c.igst for c in credited) == line.igst and sum(c.cgst for c in credited) == line.cgst


def test_a_refund_of_a_mixed_b2b_payment_credits_both_documents(user):
    diya = make_variant(price=44900, hsn_sac="7418", tax_class=f.brassware())
    puja = make_package(price=210000, hsn_sac="9995", tax_class=f.ceremony())
    invoice, bill = issue(user, [f.service_line(puja), f.goods_line(diya)], gstin=f.B2B_GSTIN_KA, payment_id=902)
    notes = issue_credit_notes_for_refund(payment_id=902, refund_id=3, amount=254900, processed_at=f.at(2026, 12, 1))
    assert [(n.refers_to_id, n.total) for n in notes] == [(invoice.pk, 44900), (bill.pk, 210000)]
    assert notes[1].cgst + notes[1].sgst + notes[1].igst == 0


def test_no_credit_note_without_an_invoice():
    assert issue_credit_notes_for_refund(payment_id=903, refund_id=4, amount=100, processed_at=f.at(2026, 12, 1)) == []
