"""The admin as staff read it: amounts in rupees, model names spelled right, one Operations section, pages for
reading without Save buttons, the payment timeline with its payloads folded, and the header saying payfirst."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from payfirst.notifications.models import Notification
from payfirst.ops.tasks import run_queued_tasks
from payfirst.payments.models import WebhookEvent
from payfirst.payments.refunds import refund_payment
from payfirst.payments.tests.flows import pay

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(make_user) -> Client:
    client = Client()
    client.force_login(make_user(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def paid(user, address, mixed_cart, fake_razorpay):
    return pay(user=user, address=address, fake=fake_razorpay)


def test_the_index_says_payfirst_with_one_operations_section_and_names_spelled_right(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert '<a href="/admin/">payfirst</a>' in page
    assert len(re.findall(r">Operations</a>", page)) == 1 and "Tasks Database Backend" not in page
    operations = page[page.index(">Operations</a>") :]
    operations = operations[: operations.index("</table>")]
    assert 'href="/admin/dashboard/"' in operations and "Task Results" in operations
    assert "Addresses" in page and "Addresss" not in page
    assert "Email outbox" in page


def test_payment_list_and_page_show_rupees_and_no_save_button(admin_client, paid):
    listing = admin_client.get("/admin/payments/payment/").content.decode()
    assert "₹4,497.00" in listing and ">449700<" not in listing
    page = admin_client.get(f"/admin/payments/payment/{paid.pk}/change/").content.decode()
    assert "₹4,497.00" in page and "₹998.00" in page and "₹2,500.00" in page
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    # The timeline's gateway payloads are folded.
    assert '<details class="payfirst-json"><summary>payload (' in page


@pytest.mark.parametrize(
    "path",
    [
        "/admin/payments/refund/",
        "/admin/payments/webhookevent/",
        "/admin/payments/paymentevent/",
        "/admin/notifications/notification/",
        "/admin/cart/cart/",
    ],
)
def test_read_only_models_have_no_save_buttons(admin_client, paid, staff_user, fake_razorpay, path):
    refund_payment(payment_id=paid.pk, amount=1000, reason="goodwill", actor_id=staff_user.pk)
    WebhookEvent.objects.create(gateway="razorpay", event_id="evt_1", body="{}", headers={})
    listing = admin_client.get(path).content.decode()
    change = re.search(rf'href="({re.escape(path)}\d+/change/[^"]*)"', listing)
    assert change, path
    page = admin_client.get(change.group(1).replace("&amp;", "&"))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode() and 'name="_continue"' not in page.content.decode()


def test_order_and_booking_pages_show_rupees(admin_client, paid):
    for path in ("/admin/fulfilment/order/", "/admin/fulfilment/booking/", "/admin/fulfilment/subscription/"):
        listing = admin_client.get(path).content.decode()
        assert re.search(r"₹\d[\d,]*\.\d\d", listing), path


@pytest.mark.django_db(transaction=True)
def test_the_email_outbox_lists_what_was_sent_with_the_message(admin_client, paid):
    run_queued_tasks()
    notification = Notification.objects.get()
    listing = admin_client.get("/admin/notifications/notification/").content.decode()
    assert notification.subject in listing
    page = admin_client.get(f"/admin/notifications/notification/{notification.pk}/change/").content.decode()
    assert "Namaste" in page and paid.reference in page and 'name="_save"' not in page
