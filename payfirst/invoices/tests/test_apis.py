"""The customer's documents over HTTP: JSON in API.md's shape, printable HTML, and a PDF whose text holds the number,
the GSTINs and the amounts. Another user's documents answer 404; staff read all."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from django.test import Client
from pypdf import PdfReader

from payfirst.accounts.models import User
from payfirst.invoices.models import Document
from payfirst.invoices.services import issue_credit_notes_for_refund, issue_documents_for_capture
from payfirst.invoices.tests import inputs as f
from payfirst.testing.factories import make_package, make_variant

pytestmark = pytest.mark.django_db


@pytest.fixture
def documents(user: User) -> tuple[Document, Document, Document]:
    diya = make_variant(price=44900, hsn_sac="7418", tax_class=f.brassware())
    puja = make_package(price=210000, hsn_sac="9995", tax_class=f.ceremony())
    invoice, bill = issue_documents_for_capture(
        payment_id=41,
        captured_at=f.at(2026, 11, 20),
        buyer=f.buyer(user, gstin=f.B2B_GSTIN_KA),
        lines=[f.goods_line(diya, 2), f.service_line(puja)],
        discount=0,
    )
    # A full refund: one credit note against each document; the one against the invoice is checked here.
    note, _ = issue_credit_notes_for_refund(payment_id=41, refund_id=7, amount=299800, processed_at=f.at(2026, 11, 21))
    return invoice, bill, note


def test_the_list_and_one_document_in_the_contracts_shape(auth_client, documents):
    invoice, bill, note = documents
    listed = auth_client.get("/api/invoices/").json()
    assert listed["count"] == 4 and {d["number"] for d in listed["results"]} == {
        invoice.number,
        bill.number,
        note.number,
        "CN/2627/000002",
    }
    body = auth_client.get(f"/api/invoices/{invoice.pk}/").json()
    assert {
        "id",
        "number",
        "kind",
        "payment_id",
        "issued_at",
        "seller",
        "buyer",
        "place_of_supply",
        "lines",
        "totals",
        "refers_to",
    } <= set(body)
    assert (body["kind"], body["payment_id"], body["refers_to"]) == ("tax_invoice", 41, None)
    assert body["seller"]["gstin"] == "29AAKCS4821M1ZS" and body["buyer"]["gstin"] == f.B2B_GSTIN_KA
    assert body["place_of_supply"] == {"state": "Karnataka", "state_code": "29"}
    (line,) = body["lines"]
    assert {k: line[k] for k in ("hsn_sac", "quantity", "taxable_value", "rate", "cgst", "sgst", "igst", "total")} == {
        "hsn_sac": "7418",
        "quantity": 2,
        "taxable_value": 85524,
        "rate": "5.00",
        "cgst": 2138,
        "sgst": 2138,
        "igst": 0,
        "total": 89800,
    }
    assert body["totals"] == {
        "taxable_value": 85524,
        "cgst": 2138,
        "sgst": 2138,
        "igst": 0,
        "total": 89800,
        "currency": "INR",
    }
    credit = auth_client.get(f"/api/invoices/{note.pk}/").json()
    assert credit["kind"] == "credit_note" and credit["refers_to"]["number"] == invoice.number
    assert credit["totals"]["total"] == 89800


def test_other_users_get_404_and_staff_read_all(api_client, other_client, staff_client, documents):
    invoice = documents[0]
    for path in ("", "html/", "pdf/"):
        response = other_client.get(f"/api/invoices/{invoice.pk}/{path}")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
        assert api_client.get(f"/api/invoices/{invoice.pk}/{path}").status_code == 401
    assert other_client.get("/api/invoices/").json()["count"] == 0
    assert staff_client.get(f"/api/invoices/{invoice.pk}/").status_code == 200
    assert staff_client.get("/api/invoices/").json()["count"] == 4


def test_the_printable_html(auth_client, documents):
    bill = documents[1]
    response = auth_client.get(f"/api/invoices/{bill.pk}/html/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Bill of Supply" in page and bill.number in page and "Exempt" in page and "9995" in page


def test_the_pdf_renders_with_the_number_gstins_and_amounts(auth_client, documents):
    invoice, _, note = documents
    response = auth_client.get(f"/api/invoices/{invoice.pk}/pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    for expected in (
        invoice.number,
        "29AAKCS4821M1ZS",
        f.B2B_GSTIN_KA,
        "Tax Invoice",
        "7418",
        "855.24",
        "21.38",
        "898.00",
        "Karnataka (29)",
    ):
        assert expected in text, expected
    credit = PdfReader(io.BytesIO(auth_client.get(f"/api/invoices/{note.pk}/pdf/").content)).pages[0].extract_text()
    assert note.number in credit and invoice.number in credit and "Credit Note" in credit


def test_the_schema_describes_the_invoice_endpoints(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    for path in (
        "/api/invoices/",
        "/api/invoices/{document_id}/",
        "/api/invoices/{document_id}/pdf/",
        "/api/invoices/{document_id}/html/",
    ):
        assert path in schema["paths"], path


def test_the_list_filters_by_payment(auth_client, documents, user):
    other = issue_documents_for_capture(
        payment_id=42,
        captured_at=f.at(2026, 11, 22),
        buyer=f.buyer(user),
        lines=[f.goods_line(make_variant(price=11800, hsn_sac="7418", tax_class=f.standard()))],
        discount=0,
    )
    assert auth_client.get("/api/invoices/").json()["count"] == 5
    only = auth_client.get("/api/invoices/", {"payment_id": 42}).json()
    assert [d["number"] for d in only["results"]] == [other[0].number]
    assert auth_client.get("/api/invoices/", {"payment_id": 41}).json()["count"] == 4
    bad = auth_client.get("/api/invoices/", {"payment_id": "x"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_input"


@pytest.fixture
def admin_client(make_user: Callable[..., User]) -> Client:
    client = Client()
    client.force_login(make_user(is_staff=True, is_superuser=True))
    return client


def test_the_admin_lists_and_shows_documents_read_only_in_rupees(admin_client, documents):
    invoice = documents[0]
    listing = admin_client.get("/admin/invoices/document/", {"q": "Meera"})
    assert listing.status_code == 200 and invoice.number in listing.content.decode()
    page = admin_client.get(f"/admin/invoices/document/{invoice.pk}/change/").content.decode()
    assert "855.24" in page and "21.38" in page and "898.00" in page and f"/api/invoices/{invoice.pk}/pdf/" in page
    assert admin_client.post(f"/admin/invoices/document/{invoice.pk}/delete/").status_code == 403
    pdf = admin_client.get(f"/api/invoices/{invoice.pk}/pdf/")  # the admin session prints it
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert admin_client.get("/admin/catalog/taxclass/").status_code == 200
