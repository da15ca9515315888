"""Staff read GST documents here; nobody edits one (a correction is a credit note, issued by a refund)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from payfirst.invoices.models import Document, DocumentLine
from payfirst.invoices.tax import paise_text, rate_text


class DocumentLineInline(admin.TabularInline):
    model = DocumentLine
    readonly_fields = (
        "position",
        "description",
        "hsn_sac",
        "quantity",
        "rate_percent",
        "exempt",
        "place_state_code",
        "taxable_rupees",
        "cgst_rupees",
        "sgst_rupees",
        "igst_rupees",
        "total_rupees",
    )
    fields = readonly_fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Document | None = None) -> bool:
        return False

    @admin.display(description="rate %")
    def rate_percent(self, line: DocumentLine) -> str:
        return "exempt" if line.exempt else rate_text(line.rate)

    @admin.display(description="taxable ₹")
    def taxable_rupees(self, line: DocumentLine) -> str:
        return paise_text(line.taxable_value)

    @admin.display(description="CGST ₹")
    def cgst_rupees(self, line: DocumentLine) -> str:
        return paise_text(line.cgst)

    @admin.display(description="SGST/UTGST ₹")
    def sgst_rupees(self, line: DocumentLine) -> str:
        return paise_text(line.sgst)

    @admin.display(description="IGST ₹")
    def igst_rupees(self, line: DocumentLine) -> str:
        return paise_text(line.igst)

    @admin.display(description="total ₹")
    def total_rupees(self, line: DocumentLine) -> str:
        return paise_text(line.total)


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "title",
        "issued_at",
        "buyer_name",
        "place",
        "taxable_rupees",
        "tax_rupees",
        "total_rupees",
        "payment_id",
    ]
    list_filter = ["kind", "financial_year"]
    search_fields = ["number", "buyer__name", "buyer__gstin", "payment_id"]
    date_hierarchy = "issued_at"
    inlines = [DocumentLineInline]
    readonly_fields = (
        "number",
        "title",
        "kind",
        "issued_at",
        "payment_id",
        "refund_id",
        "refers_to",
        "user",
        "seller",
        "buyer",
        "place_of_supply",
        "taxable_rupees",
        "cgst_rupees",
        "sgst_rupees",
        "igst_rupees",
        "total_rupees",
        "printable",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Document | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Document | None = None) -> bool:
        return False

    @admin.display(description="buyer")
    def buyer_name(self, document: Document) -> str:
        gstin = document.buyer.get("gstin")
        return f"{document.buyer.get('name', '')} ({gstin})" if gstin else document.buyer.get("name", "")

    @admin.display(description="place of supply")
    def place(self, document: Document) -> str:
        return f"{document.place_of_supply.get('state', '')} ({document.place_of_supply.get('state_code', '')})"

    @admin.display(description="taxable ₹", ordering="taxable_value")
    def taxable_rupees(self, document: Document) -> str:
        return paise_text(document.taxable_value)

    @admin.display(description="tax ₹")
    def tax_rupees(self, document: Document) -> str:
        return paise_text(document.cgst + document.sgst + document.igst)

    @admin.display(description="CGST ₹")
    def cgst_rupees(self, document: Document) -> str:
        return paise_text(document.cgst)

    @admin.display(description="SGST/UTGST ₹")
    def sgst_rupees(self, document: Document) -> str:
        return paise_text(document.sgst)

    @admin.display(description="IGST ₹")
    def igst_rupees(self, document: Document) -> str:
        return paise_text(document.igst)

    @admin.display(description="total ₹", ordering="total")
    def total_rupees(self, document: Document) -> str:
        return paise_text(document.total)

    @admin.display(description="print")
    def printable(self, document: Document) -> str:
        return format_html(
            '<a href="{}">HTML</a> · <a href="{}">PDF</a>',
            reverse("invoice-html", args=[document.pk]),
            reverse("invoice-pdf", args=[document.pk]),
        )
