"""GST documents from the payments side: a capture issues the invoice (or bill of supply) in its own transaction,
exactly once, late captures and automatic refunds included; a processed refund issues the credit note; twenty
captures at once on PostgreSQL number their invoices without gaps or duplicates."""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial

import pytest
from django.utils import timezone

from payfirst.accounts.models import Address
from payfirst.catalog.models import TaxClass, TaxRate
from payfirst.invoices.models import Document, DocumentKind
from payfirst.ops.tasks import run_queued_tasks
from payfirst.payments import services
from payfirst.payments.models import Payment, Refund, RefundStatus
from payfirst.payments.refunds import refund_payment
from payfirst.payments.services import SyncOutcome
from payfirst.payments.states import EventSource, PaymentStatus
from payfirst.payments.tests.flows import pay
from payfirst.testing import factories
from payfirst.testing.concurrency import run_concurrently

S = PaymentStatus


def exempt_class() -> TaxClass:
    made = TaxClass.objects.create(code="ceremony", name="Religious ceremony")
    TaxRate.objects.create(tax_class=made, effective_from=date(2017, 7, 1), rate=0, exempt=True)
    return made


def documents(payment: Payment) -> list[Document]:
    return list(Document.objects.filter(payment_id=payment.pk).order_by("id"))


@pytest.mark.django_db
def test_a_capture_issues_one_invoice_cum_bill_of_supply_for_a_mixed_cart(
    user, address, mixed_cart, package, fake_razorpay
):
    package.hsn_sac, package.tax_class = "9995", exempt_class()
    package.save()
    payment = pay(user=user, address=address, fake=fake_razorpay)
    (document,) = documents(payment)
    assert (document.kind, document.title, document.user_id) == (
        DocumentKind.TAX_INVOICE,
        "Invoice-cum-Bill of Supply",
        user.pk,
    )
    assert document.total == payment.amount == 449700
    assert document.issued_at == payment.captured_at
    assert [line.exempt for line in document.lines.all()] == [False, False, True]  # goods first, then plan, puja
    assert document.buyer["name"] == "Asha Rao" and document.place_of_supply["state_code"] == "29"
    # Every later way of learning about the capture changes nothing.
    assert services.sync_payment(payment=payment, source=EventSource.RECONCILE) == SyncOutcome.UNCHANGED
    assert len(documents(payment)) == 1


@pytest.mark.django_db
def test_a_discounted_payment_is_invoiced_for_what_was_paid(user, address, variant, plan, fake_razorpay):
    cart = factories.active_cart(user)
    factories.add_product(cart, variant, 2)
    factories.add_plan(cart, plan)
    promo = factories.make_promo(flat=12345)
    cart.promo = promo
    cart.save()
    payment = pay(user=user, address=address, fake=fake_razorpay)
    (invoice,) = documents(payment)
    assert payment.discount == 12345 and invoice.total == payment.amount
    assert sum(line.discount for line in invoice.lines.all()) == 12345


@pytest.mark.django_db
def test_a_b2b_buyer_with_a_gstin_on_the_address_gets_a_tax_invoice_and_a_bill_of_supply(
    user, mixed_cart, package, fake_razorpay
):
    package.tax_class = exempt_class()
    package.save()
    address = Address.objects.create(
        user=user,
        full_name="Rao Traders",
        phone="+919876543210",
        address_line_1="1 Market Road",
        city="Mysuru",
        state="Karnataka",
        postal_code="570001",
        gstin="29AAPFU0939F1ZR",
    )
    payment = pay(user=user, address=address, fake=fake_razorpay)
    invoice, bill = documents(payment)
    assert (invoice.kind, bill.kind) == (DocumentKind.TAX_INVOICE, DocumentKind.BILL_OF_SUPPLY)
    assert invoice.buyer["gstin"] == "29AAPFU0939F1ZR" and invoice.total + bill.total == payment.amount


@pytest.mark.django_db
def test_an_uncaptured_payment_has_no_document(user, address, mixed_cart, fake_razorpay):
    payment = services.create_payment_for_cart(user=user, gateway="razorpay", shipping_address_id=address.pk).payment
    services.cancel_payment(payment_id=payment.pk, actor=user)
    assert documents(payment) == []


@pytest.mark.django_db
def test_partial_then_full_refunds_get_credit_notes_against_the_invoice(
    user, address, mixed_cart, staff_user, fake_razorpay
):
    payment = pay(user=user, address=address, fake=fake_razorpay)
    (invoice,) = documents(payment)
    first = refund_payment(payment_id=payment.pk, amount=100000, reason="one diya broken", actor_id=staff_user.pk)
    rest = refund_payment(payment_id=payment.pk, amount=None, reason="order cancelled", actor_id=staff_user.pk)
    assert first.status == rest.status == RefundStatus.PROCESSED
    notes = list(Document.objects.filter(kind=DocumentKind.CREDIT_NOTE, payment_id=payment.pk).order_by("id"))
    assert [(n.refund_id, n.refers_to_id, n.total) for n in notes] == [
        (first.pk, invoice.pk, 100000),
        (rest.pk, invoice.pk, payment.amount - 100000),
    ]
    for name in ("taxable_value", "cgst", "sgst", "igst"):
        assert sum(getattr(n, name) for n in notes) == getattr(invoice, name), name


@pytest.mark.django_db
def test_a_late_capture_that_cannot_be_fulfilled_is_invoiced_and_credited_when_refunded(
    user, other_user, address, package, fake_razorpay
):
    last_place = factories.make_slot(package=package, capacity=1)
    factories.add_service(factories.active_cart(user), package, last_place)
    payment = services.create_payment_for_cart(user=user, gateway="razorpay").payment
    Payment.objects.filter(pk=payment.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.expire_stale_payments()["expired"] == 1
    factories.add_service(factories.active_cart(other_user), package, last_place)
    theirs = services.create_payment_for_cart(user=other_user, gateway="razorpay").payment
    fake_razorpay.settle(theirs.gateway_order_id)
    services.sync_payment(payment=theirs, source=EventSource.CONFIRM)
    fake_razorpay.settle(payment.gateway_order_id)
    assert services.sync_payment(payment=payment, source=EventSource.WEBHOOK) == SyncOutcome.AUTO_REFUND
    (invoice,) = documents(payment)
    assert invoice.total == payment.amount and invoice.buyer["address"] == ""  # no address: the account's name
    assert invoice.buyer["name"] == user.full_name
    assert run_queued_tasks(queue_names=["default"]) >= 1
    assert Refund.objects.get(payment=payment).status == RefundStatus.PROCESSED
    (note,) = Document.objects.filter(kind=DocumentKind.CREDIT_NOTE, payment_id=payment.pk)
    assert note.refers_to == invoice and note.total == invoice.total


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_captures_number_their_invoices_without_gaps_or_duplicates(make_user, fake_razorpay):
    variant = factories.make_variant(stock=100)
    payments = []
    for _ in range(20):
        buyer = make_user()
        factories.add_product(factories.active_cart(buyer), variant, 1)
        address = Address.objects.create(
            user=buyer,
            full_name="R",
            phone="9876543210",
            address_line_1="x",
            city="Chennai",
            state="Tamil Nadu",
            postal_code="600001",
        )
        payment = services.create_payment_for_cart(
            user=buyer, gateway="razorpay", shipping_address_id=address.pk
        ).payment
        fake_razorpay.settle(payment.gateway_order_id)
        payments.append(payment)
    # Each payment is captured through two doors at once: 40 threads, 20 captures.
    calls = [
        partial(services.sync_payment, payment=p, source=source)
        for p in payments
        for source in (EventSource.CONFIRM, EventSource.WEBHOOK)
    ]
    results = run_concurrently(calls)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert all(p.status == S.CAPTURED for p in Payment.objects.filter(pk__in=[p.pk for p in payments]))
    invoices = Document.objects.filter(payment_id__in=[p.pk for p in payments])
    assert invoices.count() == 20
    assert sorted(invoices.values_list("sequence", flat=True)) == list(range(1, 21))
    assert len(set(invoices.values_list("number", flat=True))) == 20
    assert set(invoices.values_list("igst", flat=True)) != {0}  # Tamil Nadu from Karnataka: inter-state
