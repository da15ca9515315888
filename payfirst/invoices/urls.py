"""Mounted at /api/invoices/."""

from django.urls import path

from payfirst.invoices import apis

urlpatterns = [
    path("", apis.DocumentListApi.as_view(), name="invoice-list"),
    path("<int:document_id>/", apis.DocumentDetailApi.as_view(), name="invoice-detail"),
    path("<int:document_id>/html/", apis.DocumentHtmlApi.as_view(), name="invoice-html"),
    path("<int:document_id>/pdf/", apis.DocumentPdfApi.as_view(), name="invoice-pdf"),
]
