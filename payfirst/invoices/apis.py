"""The customer's GST documents as JSON, printable HTML and PDF; another user's answer 404, staff read all."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.views import APIView

from payfirst.accounts.authentication import BearerTokenAuthentication
from payfirst.accounts.models import User
from payfirst.core.models import MAX_ID
from payfirst.core.schema import INVALID_INPUT, NOT_AUTHENTICATED, NOT_FOUND
from payfirst.invoices.models import Document, DocumentLine
from payfirst.invoices.rendering import document_html, document_pdf
from payfirst.invoices.selectors import documents_for_user, get_document
from payfirst.invoices.tax import rate_text

TAGS = ["invoices"]


@extend_schema_field({"type": "string", "pattern": r"^[0-9]+\.[0-9]{2}$", "example": "18.00"})
class RateField(serializers.Field):
    """A GST rate in per cent as a string with two decimals (never a float): "18.00", "2.50", "0.00"."""

    def to_representation(self, value: int) -> str:
        return rate_text(value)


class DocumentLineOutput(serializers.ModelSerializer):
    rate = RateField(help_text="per cent; the full rate (CGST and SGST/UTGST are half each); 0.00 when exempt")
    place_of_supply = serializers.CharField(source="place_state_code", help_text="GST state code of this line")

    class Meta:
        model = DocumentLine
        fields = [
            "description",
            "hsn_sac",
            "quantity",
            "unit",
            "taxable_value",
            "rate",
            "cgst",
            "sgst",
            "igst",
            "total",
            "exempt",
            "place_of_supply",
        ]
        read_only_fields = fields


class PartyOutput(serializers.Serializer):
    name = serializers.CharField()
    address = serializers.CharField()
    state = serializers.CharField()
    state_code = serializers.CharField()
    gstin = serializers.CharField(help_text='"" for an unregistered buyer (B2C)')


class SellerOutput(serializers.Serializer):
    legal_name = serializers.CharField()
    address = serializers.CharField()
    state = serializers.CharField()
    state_code = serializers.CharField()
    gstin = serializers.CharField()


class PlaceOutput(serializers.Serializer):
    state = serializers.CharField()
    state_code = serializers.CharField()


class TotalsOutput(serializers.Serializer):
    taxable_value = serializers.IntegerField()
    cgst = serializers.IntegerField()
    sgst = serializers.IntegerField(help_text="SGST, or UTGST in a union territory without a legislature")
    igst = serializers.IntegerField()
    total = serializers.IntegerField()
    currency = serializers.CharField()


class RefersToOutput(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    kind = serializers.CharField()
    issued_at = serializers.DateTimeField()


class DocumentOutput(serializers.ModelSerializer):
    seller = SellerOutput(read_only=True)
    buyer = serializers.SerializerMethodField()
    place_of_supply = PlaceOutput(read_only=True)
    lines = DocumentLineOutput(many=True, read_only=True)
    totals = serializers.SerializerMethodField()
    refers_to = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = [
            "id",
            "number",
            "kind",
            "title",
            "payment_id",
            "refund_id",
            "issued_at",
            "seller",
            "buyer",
            "place_of_supply",
            "lines",
            "totals",
            "refers_to",
        ]
        read_only_fields = fields

    @extend_schema_field(PartyOutput)
    def get_buyer(self, document: Document) -> dict[str, Any]:
        buyer = document.buyer
        return {key: buyer.get(key, "") for key in ("name", "address", "state", "state_code", "gstin")}

    @extend_schema_field(TotalsOutput)
    def get_totals(self, document: Document) -> dict[str, Any]:
        return {
            "taxable_value": document.taxable_value,
            "cgst": document.cgst,
            "sgst": document.sgst,
            "igst": document.igst,
            "total": document.total,
            "currency": "INR",
        }

    @extend_schema_field(RefersToOutput(allow_null=True))
    def get_refers_to(self, document: Document) -> dict[str, Any] | None:
        original = document.refers_to
        if original is None:
            return None
        return {
            "id": original.pk,
            "number": original.number,
            "kind": original.kind,
            "issued_at": serializers.DateTimeField().to_representation(original.issued_at),
        }


def _user(request: Request) -> User:
    return request.user  # type: ignore[return-value]


class DocumentFilter(serializers.Serializer):
    payment_id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)


@extend_schema(
    tags=TAGS,
    parameters=[
        OpenApiParameter(
            "payment_id", int, description="only the documents of this payment (its invoice, bill, credit notes)"
        )
    ],
    responses={200: DocumentOutput(many=True), 400: INVALID_INPUT, 401: NOT_AUTHENTICATED, 404: NOT_FOUND},
)
class DocumentListApi(generics.ListAPIView):
    """Your GST documents (tax invoices, bills of supply, credit notes), newest first. Staff see everyone's."""

    serializer_class = DocumentOutput

    def get_queryset(self) -> QuerySet[Document]:
        query = DocumentFilter(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        documents = documents_for_user(user=_user(self.request))
        if "payment_id" in query.validated_data:
            documents = documents.filter(payment_id=query.validated_data["payment_id"])
        return documents


@extend_schema(tags=TAGS, responses={200: DocumentOutput, 401: NOT_AUTHENTICATED, 404: NOT_FOUND})
class DocumentDetailApi(generics.RetrieveAPIView):
    """One GST document; anyone else's answers 404 (staff read all)."""

    serializer_class = DocumentOutput

    def get_object(self) -> Document:
        return get_document(user=_user(self.request), document_id=self.kwargs["document_id"])


@extend_schema(
    tags=TAGS,
    summary="The document as printable HTML",
    responses={
        (200, "text/html"): OpenApiResponse(OpenApiTypes.STR, description="an HTML page to print"),
        401: NOT_AUTHENTICATED,
        404: NOT_FOUND,
    },
)
class DocumentHtmlApi(APIView):
    """Also answers a signed-in admin session, so staff can print from the admin (GET only: no CSRF concern)."""

    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]

    def get(self, request: Request, document_id: int) -> HttpResponse:
        document = get_document(user=_user(request), document_id=document_id)
        return HttpResponse(document_html(document), content_type="text/html; charset=utf-8")


@extend_schema(
    tags=TAGS,
    summary="The document as PDF",
    responses={
        (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="an A4 PDF"),
        401: NOT_AUTHENTICATED,
        404: NOT_FOUND,
    },
)
class DocumentPdfApi(APIView):
    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]

    def get(self, request: Request, document_id: int) -> HttpResponse:
        document = get_document(user=_user(request), document_id=document_id)
        response = HttpResponse(document_pdf(document), content_type="application/pdf")
        filename = document.number.replace("/", "-")
        response["Content-Disposition"] = f'inline; filename="{filename}.pdf"'
        return response
