"""Customers cancelling their own bookings and subscriptions: the place goes back, the refund follows the service's
rule, the cut-off answers 409 cancellation_closed, another user's objects answer 404, and a second cancel is a no-op.
Also: the devotee's name and note travel from the cart line into the booking."""

from __future__ import annotations

from datetime import timedelta
from typing import NoReturn

import pytest
from django.utils import timezone

from payfirst.accounts.models import Address, User
from payfirst.catalog.models import Service, Slot
from payfirst.fulfilment.models import Booking, Subscription
from payfirst.gateways.base import GatewayUnavailable
from payfirst.gateways.fake import FakeGateway
from payfirst.payments.customer_cancel import booking_refund_amount, cancel_booking, subscription_refund_amount
from payfirst.payments.models import Payment, Refund
from payfirst.payments.states import PaymentStatus
from payfirst.payments.tests.flows import pay
from payfirst.testing import factories

pytestmark = pytest.mark.django_db


def booking_url(booking: Booking) -> str:
    return f"/api/booking/bookings/{booking.pk}/cancel/"


@pytest.fixture
def puja_cart(user, package, slot):
    cart = factories.active_cart(user)
    factories.add_service(cart, package, slot)
    return cart


def paid_booking(user: User, address: Address, fake: FakeGateway) -> Booking:
    payment = pay(user=user, address=address, fake=fake)
    return Booking.objects.get(payment=payment)


def test_customer_cancels_a_booking_the_place_goes_back_and_the_whole_total_is_refunded(
    auth_client, user, address, puja_cart, slot, fake_razorpay
):
    booking = paid_booking(user, address, fake_razorpay)
    slot.refresh_from_db()
    assert slot.taken == 1

    response = auth_client.post(booking_url(booking))

    assert response.status_code == 200
    assert response.json()["status"] == "CANCELLED" and response.json()["book_id"] == booking.book_id
    slot.refresh_from_db()
    assert slot.taken == 0
    refund = Refund.objects.get(payment=booking.payment)
    assert (refund.amount, refund.status) == (250000, "PROCESSED")
    assert refund.reason == f"Customer cancelled booking {booking.book_id}"
    assert Payment.objects.get(pk=booking.payment_id).status == PaymentStatus.REFUNDED


def test_cancelling_twice_gives_the_place_back_and_refunds_once(
    auth_client, user, address, puja_cart, slot, fake_razorpay
):
    booking = paid_booking(user, address, fake_razorpay)
    assert auth_client.post(booking_url(booking)).status_code == 200
    second = auth_client.post(booking_url(booking))
    assert second.status_code == 200 and second.json()["status"] == "CANCELLED"
    slot.refresh_from_db()
    assert slot.taken == 0
    assert Refund.objects.filter(payment=booking.payment).count() == 1


def test_cancel_after_the_services_cut_off_answers_409_and_changes_nothing(
    auth_client, user, address, package, fake_razorpay
):
    soon = timezone.localtime() + timedelta(hours=30)
    slot = factories.make_slot(package=package, capacity=2, on=soon.date(), at=soon.time().replace(microsecond=0))
    factories.add_service(factories.active_cart(user), package, slot)
    booking = paid_booking(user, address, fake_razorpay)
    Service.objects.filter(pk=package.service_id).update(cancel_cutoff_hours=48)

    response = auth_client.post(booking_url(booking))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "cancellation_closed"
    assert "48 hours before it starts" in response.json()["error"]["message"]
    booking.refresh_from_db()
    assert booking.status == "CONFIRMED"
    assert Slot.objects.get(pk=slot.pk).taken == 1
    assert not Refund.objects.exists()

    Service.objects.filter(pk=package.service_id).update(cancel_cutoff_hours=24)
    assert auth_client.post(booking_url(booking)).status_code == 200


def test_the_services_refund_share_applies_and_a_zero_share_refunds_nothing(
    auth_client, user, address, puja_cart, package, fake_razorpay
):
    Service.objects.filter(pk=package.service_id).update(cancel_refund_bp=7550)
    booking = paid_booking(user, address, fake_razorpay)
    auth_client.post(booking_url(booking))
    assert Refund.objects.get(payment=booking.payment).amount == 250000 * 7550 // 10000 == 188750

    Service.objects.filter(pk=package.service_id).update(cancel_refund_bp=0)
    other_slot = factories.make_slot(package=package, capacity=1)
    factories.add_service(factories.active_cart(user), package, other_slot)
    second = paid_booking(user, address, fake_razorpay)
    assert auth_client.post(booking_url(second)).status_code == 200
    assert not Refund.objects.filter(payment=second.payment).exists()
    assert Slot.objects.get(pk=other_slot.pk).taken == 0


def test_another_users_booking_answers_404_and_stays(
    auth_client, other_client, user, address, puja_cart, fake_razorpay
):
    booking = paid_booking(user, address, fake_razorpay)
    for url in (booking_url(booking), "/api/booking/bookings/999999/cancel/", f"/api/booking/bookings/{2**63}/cancel/"):
        response = other_client.post(url)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"
    assert Booking.objects.get(pk=booking.pk).status == "CONFIRMED"


def test_cancel_needs_a_signed_in_user(api_client, user, address, puja_cart, fake_razorpay):
    booking = paid_booking(user, address, fake_razorpay)
    assert api_client.post(booking_url(booking)).status_code == 401


def test_a_gateway_that_cannot_answer_leaves_the_refund_pending_and_the_booking_cancelled(
    auth_client, user, address, puja_cart, slot, fake_razorpay
):
    booking = paid_booking(user, address, fake_razorpay)

    def down(**kwargs: object) -> NoReturn:
        raise GatewayUnavailable("timed out")

    fake_razorpay.refund = down
    response = auth_client.post(booking_url(booking))

    assert response.status_code == 200 and response.json()["status"] == "CANCELLED"
    refund = Refund.objects.get(payment=booking.payment)
    assert refund.status == "PENDING" and "timed out" in refund.error


def test_devotee_name_and_note_go_from_the_cart_line_into_the_booking(
    auth_client, user, address, package, slot, fake_razorpay
):
    body = {
        "package_id": package.pk,
        "selected_date": slot.date.isoformat(),
        "selected_time": "10:00",
        "devotee_name": "  Lakshmi Iyer ",
        "note": "Gotra: Kashyapa; 60th birthday",
    }
    cart = auth_client.post("/api/cart/add/", body, format="json").json()
    assert cart["items"][0]["devotee_name"] == "Lakshmi Iyer"
    assert cart["items"][0]["note"] == "Gotra: Kashyapa; 60th birthday"

    booking = paid_booking(user, address, fake_razorpay)

    shown = auth_client.get(f"/api/booking/bookings/{booking.pk}/").json()
    assert (shown["devotee_name"], shown["note"]) == ("Lakshmi Iyer", "Gotra: Kashyapa; 60th birthday")


def test_devotee_name_and_note_have_limits(auth_client, package, slot):
    body = {"package_id": package.pk, "selected_date": slot.date.isoformat(), "selected_time": "10:00"}
    response = auth_client.post("/api/cart/add/", {**body, "devotee_name": "x" * 121, "note": "y" * 501}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"devotee_name", "note"}
    # A NUL byte anywhere in a JSON body is refused by the parser, before any field is read.
    response = auth_client.post("/api/cart/add/", {**body, "devotee_name": "Asha", "note": "y\x00"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_input"


def test_customer_cancels_a_subscription_not_yet_started_in_full_and_a_running_one_pro_rata(
    auth_client, user, address, plan, fake_razorpay
):
    factories.add_plan(factories.active_cart(user), plan)
    payment = pay(user=user, address=address, fake=fake_razorpay)
    subscription = Subscription.objects.get(payment=payment)
    now = subscription.starts_at + timedelta(days=10, hours=1)
    assert subscription_refund_amount(subscription=subscription, now=now) == 99900 * 19 // 30
    assert subscription_refund_amount(subscription=subscription, now=subscription.starts_at) == 99900
    assert subscription_refund_amount(subscription=subscription, now=subscription.ends_at) == 0

    response = auth_client.post(f"/api/subscriptions/{subscription.pk}/cancel/")

    assert response.status_code == 200 and response.json()["status"] == "CANCELLED"
    assert Refund.objects.get(payment=payment).amount in (99900, 99900 * 29 // 30)
    again = auth_client.post(f"/api/subscriptions/{subscription.pk}/cancel/")
    assert again.status_code == 200 and Refund.objects.filter(payment=payment).count() == 1


def test_another_users_subscription_answers_404(other_client, user, address, plan, fake_razorpay):
    factories.add_plan(factories.active_cart(user), plan)
    subscription = Subscription.objects.get(payment=pay(user=user, address=address, fake=fake_razorpay))
    assert other_client.post(f"/api/subscriptions/{subscription.pk}/cancel/").status_code == 404
    assert Subscription.objects.get(pk=subscription.pk).status == "ACTIVE"


def test_booking_refund_amount_rounds_down_to_the_paisa():
    assert booking_refund_amount(total=99999, refund_bp=5000) == 49999
    assert booking_refund_amount(total=250000, refund_bp=10000) == 250000


def test_cancel_booking_service_answers_a_cancelled_booking_without_a_second_refund(
    user, address, puja_cart, fake_razorpay
):
    booking = paid_booking(user, address, fake_razorpay)
    first = cancel_booking(user=user, booking_id=booking.pk)
    second = cancel_booking(user=user, booking_id=booking.pk)
    assert first.refund is not None and second.refund is None
    assert second.fulfilment.status == "CANCELLED"


def test_cancel_endpoints_are_in_the_openapi_schema(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    booking = paths["/api/booking/bookings/{booking_id}/cancel/"]["post"]
    assert set(booking["responses"]) == {"200", "400", "401", "404", "409", "413"}
    assert {"devotee_name", "note"} <= set(schema["components"]["schemas"]["BookingOutput"]["properties"])
    assert set(paths["/api/subscriptions/{subscription_id}/cancel/"]["post"]["responses"]) == {
        "200",
        "400",
        "413",
        "401",
        "404",
        "409",
    }
