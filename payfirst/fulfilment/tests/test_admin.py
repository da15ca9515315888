"""The fulfilment admin: pages render, nothing can be added or deleted, and only the status can be edited."""

from __future__ import annotations

import pytest
from django.test import Client

from payfirst.fulfilment.models import Booking, Order, OrderStatus, Subscription
from payfirst.payments.handover import fulfil
from payfirst.testing.factories import (
    make_captured_payment,
    make_package,
    make_plan,
    make_slot,
    make_variant,
    plan_line,
    product_line,
    service_line,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(make_user) -> Client:
    client = Client()
    client.force_login(make_user(email="admin@example.com", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def fulfilled(user):
    package = make_package()
    payment = make_captured_payment(
        user=user,
        lines=[
            product_line(make_variant(), 2),
            service_line(package, make_slot(package=package)),
            plan_line(make_plan()),
        ],
        discount=900,
    )
    fulfil(payment=payment)
    return payment


def test_changelists_and_change_pages_render(admin_client, fulfilled):
    order = Order.objects.get(payment=fulfilled)
    booking = Booking.objects.get(payment=fulfilled)
    subscription = Subscription.objects.get(payment=fulfilled)
    for model, obj in (("order", order), ("booking", booking), ("subscription", subscription)):
        assert admin_client.get(f"/admin/fulfilment/{model}/").status_code == 200
        page = admin_client.get(f"/admin/fulfilment/{model}/{obj.pk}/change/")
        assert page.status_code == 200
    assert order.items.get().sku in admin_client.get(f"/admin/fulfilment/order/{order.pk}/change/").content.decode()
    booking_filters = admin_client.get(
        f"/admin/fulfilment/booking/?status=CONFIRMED&service__id__exact={booking.service_id}"
        f"&selected_date={booking.selected_date.isoformat()}"
    )
    assert booking.book_id in booking_filters.content.decode()
    for model, term, expected in (
        ("order", fulfilled.reference, order.order_number),
        ("booking", "asha@example.com", booking.book_id),
        ("subscription", subscription.plan_code, subscription.plan_code),
    ):
        found = admin_client.get(f"/admin/fulfilment/{model}/", {"q": term})
        assert found.status_code == 200 and expected in found.content.decode()


def test_fulfilments_cannot_be_added_or_deleted_in_the_admin(admin_client, fulfilled):
    order = Order.objects.get(payment=fulfilled)
    for model in ("order", "booking", "subscription"):
        assert admin_client.get(f"/admin/fulfilment/{model}/add/").status_code == 403
    assert admin_client.get(f"/admin/fulfilment/order/{order.pk}/delete/").status_code == 403


def test_only_the_status_changes_when_staff_edit_an_order(admin_client, fulfilled):
    order = Order.objects.get(payment=fulfilled)
    item = order.items.get()

    response = admin_client.post(
        f"/admin/fulfilment/order/{order.pk}/change/",
        {
            "status": OrderStatus.SHIPPED,
            "total": 1,
            "discount": 0,
            "order_number": "ORD-FORGED",
            "items-TOTAL_FORMS": "1",
            "items-INITIAL_FORMS": "1",
            "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "1000",
            "items-0-id": str(item.pk),
            "items-0-order": str(order.pk),
        },
    )

    assert response.status_code == 302
    edited = Order.objects.get(pk=order.pk)
    assert edited.status == OrderStatus.SHIPPED
    assert (edited.total, edited.discount, edited.order_number) == (order.total, order.discount, order.order_number)


def test_a_fulfilment_is_not_cancelled_by_editing_its_status(admin_client, fulfilled):
    booking = Booking.objects.get(payment=fulfilled)
    response = admin_client.post(f"/admin/fulfilment/booking/{booking.pk}/change/", {"status": "CANCELLED"})
    assert response.status_code == 200 and "Refund in full and cancel" in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == "CONFIRMED"
    assert (
        admin_client.post(f"/admin/fulfilment/booking/{booking.pk}/change/", {"status": "COMPLETED"}).status_code == 302
    )
    booking.refresh_from_db()
    assert booking.status == "COMPLETED"
