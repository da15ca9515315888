"""GST documents: tax invoices, bills of supply and credit notes, their lines, and the per-series, per-financial-year
counters their numbers come from.

A document belongs to a payment (and a credit note to a refund) by id only: payments calls into this app, never the
other way round, so the columns are plain integers rather than foreign keys into payments.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class DocumentKind(models.TextChoices):
    TAX_INVOICE = "tax_invoice", "Tax invoice"
    BILL_OF_SUPPLY = "bill_of_supply", "Bill of supply"
    CREDIT_NOTE = "credit_note", "Credit note"


# Each kind numbers in its own series (Rule 46(b) allows "one or multiple series").
SERIES: dict[str, str] = {
    DocumentKind.TAX_INVOICE: "INV",
    DocumentKind.BILL_OF_SUPPLY: "BOS",
    DocumentKind.CREDIT_NOTE: "CN",
}


class DocumentCounter(models.Model):
    """The last number given in one series in one financial year. Taken under a row lock in the transaction that
    issues the document, so a rolled-back capture gives its number back: no gaps, no duplicates."""

    series = models.CharField(max_length=4)
    financial_year = models.CharField(max_length=7, help_text="e.g. 2026-27 (1 April to 31 March)")
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["series", "financial_year"], name="document_counter_once_per_year")
        ]

    def __str__(self) -> str:
        return f"{self.series} {self.financial_year}: {self.last_number}"


class Document(models.Model):
    kind = models.CharField(max_length=16, choices=DocumentKind.choices)
    title = models.CharField(max_length=40, help_text='as printed: "Tax Invoice", "Invoice-cum-Bill of Supply", …')
    number = models.CharField(max_length=16, unique=True)
    series = models.CharField(max_length=4)
    financial_year = models.CharField(max_length=7)
    sequence = models.PositiveIntegerField()
    payment_id = models.BigIntegerField(db_index=True, help_text="the payment whose money this documents")
    refund_id = models.BigIntegerField(null=True, blank=True, help_text="credit notes: the processed refund")
    refers_to = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="credit_notes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="gst_documents")
    issued_at = models.DateTimeField()
    seller = models.JSONField(help_text="legal name, address, state, state code, GSTIN as issued")
    buyer = models.JSONField(help_text="name, address, state, state code, GSTIN (B2B) as issued")
    place_of_supply = models.JSONField(help_text="{state, state_code}")
    taxable_value = models.BigIntegerField(help_text="paise")
    cgst = models.BigIntegerField(default=0, help_text="paise")
    sgst = models.BigIntegerField(default=0, help_text="paise (UTGST in a union territory without a legislature)")
    igst = models.BigIntegerField(default=0, help_text="paise")
    total = models.BigIntegerField(help_text="paise, tax included")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["payment_id", "kind"],
                condition=~Q(kind="credit_note"),
                name="document_one_invoice_per_payment_and_kind",
            ),
            models.UniqueConstraint(
                fields=["refund_id", "refers_to"],
                condition=Q(kind="credit_note"),
                name="document_one_credit_note_per_refund_and_invoice",
            ),
            models.UniqueConstraint(
                fields=["series", "financial_year", "sequence"], name="document_sequence_unique_in_series"
            ),
            models.CheckConstraint(
                condition=Q(total=F("taxable_value") + F("cgst") + F("sgst") + F("igst")), name="document_total_adds_up"
            ),
            models.CheckConstraint(
                condition=Q(kind="credit_note", refund_id__isnull=False, refers_to__isnull=False)
                | (~Q(kind="credit_note") & Q(refund_id__isnull=True, refers_to__isnull=True)),
                name="document_credit_note_refers_to_invoice",
            ),
        ]
        indexes = [models.Index(fields=["user", "-issued_at"], name="document_user_recent_idx")]

    def __str__(self) -> str:
        return f"{self.number} ({self.get_kind_display()})"


class DocumentLine(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    source_line_id = models.BigIntegerField(null=True, blank=True, help_text="the payment line it documents")
    credits_line = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credited_by",
        help_text="credit notes: the invoice line this line credits",
    )
    description = models.CharField(max_length=255)
    hsn_sac = models.CharField(max_length=8, blank=True)
    is_service = models.BooleanField(default=False)
    quantity = models.PositiveIntegerField()
    unit = models.CharField(max_length=8, default="NOS", help_text="Unique Quantity Code")
    rate = models.PositiveIntegerField(help_text="basis points: 1800 = 18 %")
    exempt = models.BooleanField(default=False)
    place_state_code = models.CharField(max_length=2)
    gross = models.BigIntegerField(default=0, help_text="paise: the line's price before its discount")
    discount = models.BigIntegerField(default=0, help_text="paise: its share of the discount")
    taxable_value = models.BigIntegerField(help_text="paise, after the discount, tax excluded")
    cgst = models.BigIntegerField(default=0)
    sgst = models.BigIntegerField(default=0)
    igst = models.BigIntegerField(default=0)
    total = models.BigIntegerField(help_text="paise, tax included")

    class Meta:
        ordering = ["document_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["document", "position"], name="document_line_position_unique"),
            models.CheckConstraint(
                condition=Q(total=F("taxable_value") + F("cgst") + F("sgst") + F("igst")),
                name="document_line_total_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(exempt=False) | Q(cgst=0, sgst=0, igst=0), name="document_line_exempt_has_no_tax"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.description} x{self.quantity}"
