"""Reading documents: a customer reads their own, staff read all; anyone else's is NotFound (404)."""

from __future__ import annotations

from django.db.models import QuerySet

from payfirst.accounts.models import User
from payfirst.core.errors import NotFound
from payfirst.invoices.models import Document


def documents_for_user(*, user: User) -> QuerySet[Document]:
    documents = Document.objects.select_related("refers_to").prefetch_related("lines")
    return documents if user.is_staff else documents.filter(user=user)


def get_document(*, user: User, document_id: int) -> Document:
    document = documents_for_user(user=user).filter(pk=document_id).first()
    if document is None:
        raise NotFound(f"Document {document_id} was not found.")
    return document
