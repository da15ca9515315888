"""End to end over real HTTP: the payfirst API on a live server, the real gateway adapters, and the sandbox server
(its own process), whose webhooks reach the live server and are processed by the task queue. A mixed cart
(product + slot + plan) per gateway."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from payfirst.cart.models import Cart
from payfirst.catalog.models import ServicePackage, Slot, Variant
from payfirst.fulfilment.models import Booking, Order, Subscription
from payfirst.ops.tasks import run_queued_tasks
from payfirst.payments.models import Payment, WebhookEvent
from payfirst.payments.services import phonepe_return_url
from payfirst.payments.states import PaymentStatus
from payfirst.testing.sandbox_server import SandboxServer

S = PaymentStatus
pytestmark = pytest.mark.django_db(transaction=True)


def settle(sandbox: SandboxServer, *, horizon: float = 2.0) -> None:
    """Let the sandbox send what is due within `horizon` seconds to the live server, then run the queued tasks."""
    sandbox.wait_idle(horizon=horizon)
    run_queued_tasks()


def fill_mixed_cart(client: httpx.Client, *, variant: Variant, slot: Slot, plan_code: str) -> dict:
    assert client.post("/api/cart/add/", json={"variant_id": variant.pk, "quantity": 2}).status_code == 201
    package = ServicePackage.objects.filter(service_id=slot.service_id).first()
    assert package is not None
    added = client.post(
        "/api/cart/add/",
        json={
            "package_id": package.pk,
            "selected_date": slot.date.isoformat(),
            "selected_time": slot.time.strftime("%H:%M"),
        },
    )
    assert added.status_code == 201, added.text
    cart = client.post("/api/cart/add/", json={"plan_code": plan_code})
    assert cart.status_code == 201, cart.text
    return cart.json()


def assert_fulfilled(payment: Payment, *, variant: Variant, slot: Slot) -> None:
    totals = sum(
        sum(model.objects.filter(payment=payment).values_list("total", flat=True))
        for model in (Order, Booking, Subscription)
    )
    assert totals == payment.amount == 2 * 49900 + 250000 + 99900
    assert Order.objects.filter(payment=payment).count() == 1
    assert Booking.objects.filter(payment=payment).count() == 1
    assert Subscription.objects.filter(payment=payment).count() == 1
    variant.refresh_from_db()
    slot.refresh_from_db()
    assert (variant.stock_on_hand, variant.reserved, slot.taken) == (3, 0, 1)
    assert Cart.objects.get(pk=payment.cart_id).status == "CONVERTED"


def test_razorpay_happy_path_through_the_sandbox(server, sandbox, api, user, address, catalog):
    variant, slot, plan = catalog
    client = api(server, user)
    fill_mixed_cart(client, variant=variant, slot=slot, plan_code=plan.code)
    created = client.post(
        "/api/payments/create-from-cart/", json={"gateway": "razorpay", "shipping_address_id": address.pk, "amount": 1}
    )
    assert created.status_code == 201, created.text
    payment = created.json()
    assert payment["amount"] == 449700 and payment["gateway_order_id"].startswith("order_")
    checkout = payment["checkout"]
    assert checkout["order_id"] == payment["gateway_order_id"] and checkout["amount"] == 449700
    assert checkout["sandbox_checkout_url"].startswith(f"{sandbox.url}/sandbox/razorpay/checkout/")
    # The customer pays on the hosted page; Checkout hands the front end the three signed fields.
    paid = httpx.post(f"{checkout['sandbox_checkout_url']}pay", json={"outcome": "success"}, timeout=30)
    assert paid.status_code == 200, paid.text
    confirmed = client.post("/api/payments/confirm-razorpay/", json=paid.json())
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "success"
    assert len(confirmed.json()["payment"]["fulfilments"]) == 3
    record = Payment.objects.get(pk=payment["id"])
    assert record.status == S.CAPTURED
    assert_fulfilled(record, variant=variant, slot=slot)
    # The sandbox's webhooks arrive afterwards (from the worker): verified, and changing nothing.
    settle(sandbox)
    outcomes = set(WebhookEvent.objects.values_list("outcome", flat=True))
    assert outcomes and outcomes <= {"processed", "duplicate", "ignored"}, outcomes
    assert WebhookEvent.objects.filter(is_verified=True).count() == WebhookEvent.objects.count()
    assert_fulfilled(Payment.objects.get(pk=payment["id"]), variant=variant, slot=slot)
    # The user's next cart is a fresh, empty one.
    assert client.get("/api/cart/").json()["items_count"] == 0


def test_razorpay_paid_without_confirm_is_captured_by_the_webhook_alone(server, sandbox, api, user, address, catalog):
    variant, slot, plan = catalog
    client = api(server, user)
    fill_mixed_cart(client, variant=variant, slot=slot, plan_code=plan.code)
    payment = client.post(
        "/api/payments/create-from-cart/", json={"gateway": "razorpay", "shipping_address_id": address.pk}
    ).json()
    httpx.post(f"{payment['checkout']['sandbox_checkout_url']}pay", json={"outcome": "success"}, timeout=30)
    assert Payment.objects.get(pk=payment["id"]).status == S.PENDING  # the browser never came back
    settle(sandbox)
    record = Payment.objects.get(pk=payment["id"])
    assert record.status == S.CAPTURED and record.events.filter(to_status=S.CAPTURED, source="webhook").exists()
    assert_fulfilled(record, variant=variant, slot=slot)
    assert WebhookEvent.objects.filter(outcome="processed").exists()


def test_razorpay_with_webhooks_dropped_and_duplicated_confirm_still_fulfils_once(
    server, sandbox, api, user, address, catalog
):
    variant, slot, plan = catalog
    client = api(server, user)
    sandbox.arm("razorpay", "webhook_duplicate", count=5)
    fill_mixed_cart(client, variant=variant, slot=slot, plan_code=plan.code)
    payment = client.post(
        "/api/payments/create-from-cart/", json={"gateway": "razorpay", "shipping_address_id": address.pk}
    ).json()
    paid = httpx.post(f"{payment['checkout']['sandbox_checkout_url']}pay", json={"outcome": "success"}, timeout=30)
    settle(sandbox)
    assert WebhookEvent.objects.filter(outcome="duplicate").exists()
    confirmed = client.post("/api/payments/confirm-razorpay/", json=paid.json())
    assert confirmed.json()["status"] == "success"
    assert_fulfilled(Payment.objects.get(pk=payment["id"]), variant=variant, slot=slot)


def test_razorpay_gateway_error_on_create_leaves_nothing_reserved_and_retry_works(
    server, sandbox, api, user, address, catalog
):
    variant, slot, plan = catalog
    client = api(server, user)
    fill_mixed_cart(client, variant=variant, slot=slot, plan_code=plan.code)
    sandbox.arm("razorpay", "api_error")
    body = {"gateway": "razorpay", "shipping_address_id": address.pk}
    failed = client.post("/api/payments/create-from-cart/", json=body)
    assert failed.status_code == 502 and failed.json()["error"]["code"] == "gateway_error"
    variant.refresh_from_db()
    slot.refresh_from_db()
    assert (variant.reserved, slot.taken) == (0, 0)
    retry = client.post("/api/payments/create-from-cart/", json=body)
    assert retry.status_code == 201, retry.text


def test_razorpay_tampered_checkout_signature_is_400_through_the_sandbox(server, sandbox, api, user, address, catalog):
    variant, slot, plan = catalog
    client = api(server, user)
    fill_mixed_cart(client, variant=variant, slot=slot, plan_code=plan.code)
    payment = client.post(
        "/api/payments/create-from-cart/", json={"gateway": "razorpay", "shipping_address_id": address.pk}
    ).json()
    fields = httpx.post(
        f"{payment['checkout']['sandbox_checkout_url']}pay", json={"outcome": "success"}, timeout=30
    ).json()
    fields["razorpay_signature"] = "0" * 64
    answer = client.post("/api/payments/confirm-razorpay/", json=fields)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_signature"
    assert Payment.objects.get(pk=payment["id"]).status == S.PENDING


def test_phonepe_happy_path_through_the_sandbox_and_the_redirect(server, sandbox, api, user, address, catalog):
    # PhonePe's callback comes a little after the customer is back (2000 gateway seconds: 2 s here), so the redirect
    # is what captures; the callback then changes nothing.
    sandbox.arm("phonepe", "webhook_delay", delay_seconds=2000)
    variant, slot, plan = catalog
    client = api(server, user)
    fill_mixed_cart(client, variant=variant, slot=slot, plan_code=plan.code)
    created = client.post(
        "/api/payments/create-from-cart/",
        json={
            "gateway": "phonepe",
            "shipping_address_id": address.pk,
            "redirect_url": "http://localhost:3000/confirmbooking",
        },
    )
    assert created.status_code == 201, created.text
    payment = created.json()
    assert payment["gateway_order_id"] == Payment.objects.get(pk=payment["id"]).reference
    pay_page = payment["checkout"]["redirect_url"]
    assert pay_page.startswith(f"{sandbox.url}/sandbox/phonepe/pay/")
    completed = httpx.post(f"{pay_page}complete", json={"outcome": "success"}, timeout=30)
    assert completed.status_code == 200, completed.text
    back = completed.json()["redirect_url"]
    assert back.startswith(f"{server}/api/payments/redirect/phonepe/?payment_id={payment['id']}&token=")
    tokenless = httpx.get(back.split("&token=")[0], follow_redirects=False, timeout=30)
    assert tokenless.status_code == 404 and Payment.objects.get(pk=payment["id"]).status == S.PENDING
    # The browser follows PhonePe back to payfirst (no sign-in), which asks PhonePe and sends it on.
    redirected = httpx.get(back, follow_redirects=False, timeout=30)
    assert redirected.status_code == 302
    target = urlsplit(redirected.headers["location"])
    assert (target.netloc, target.path) == ("localhost:3000", "/confirmbooking")
    assert parse_qs(target.query) == {
        "payment_id": [str(payment["id"])],
        "status": ["success"],
        "redirect_source": ["phonepe"],
    }
    record = Payment.objects.get(pk=payment["id"])
    assert record.status == S.CAPTURED and record.events.filter(source="redirect").exists()
    assert_fulfilled(record, variant=variant, slot=slot)
    status = client.get(f"/api/payments/cart/status/{payment['cart_id']}/").json()["data"]
    assert status["payment_status"] == "SUCCESS" and status["booking_id"].startswith("BK-")
    settle(sandbox, horizon=10)  # PhonePe's callback arrives later, verified, and changes nothing
    assert WebhookEvent.objects.filter(gateway="phonepe", is_verified=True).exists()
    assert not WebhookEvent.objects.filter(outcome__in=["invalid_signature", "error"]).exists()
    assert_fulfilled(Payment.objects.get(pk=payment["id"]), variant=variant, slot=slot)


def test_phonepe_failed_payment_releases_everything(server, sandbox, api, user, address, catalog):
    variant, slot, plan = catalog
    client = api(server, user)
    fill_mixed_cart(client, variant=variant, slot=slot, plan_code=plan.code)
    payment = client.post(
        "/api/payments/create-from-cart/", json={"gateway": "phonepe", "shipping_address_id": address.pk}
    ).json()
    httpx.post(f"{payment['checkout']['redirect_url']}complete", json={"outcome": "failure"}, timeout=30)
    settle(sandbox)  # the callback says failed; payfirst asks PhonePe, which agrees
    record = Payment.objects.get(pk=payment["id"])
    assert record.status == S.FAILED
    variant.refresh_from_db()
    slot.refresh_from_db()
    assert (variant.reserved, slot.taken) == (0, 0) and not Booking.objects.exists()
    answer = httpx.get(phonepe_return_url(payment=record), timeout=30)
    assert answer.json() == {"payment_id": payment["id"], "status": "failed"}


def test_razorpay_redirect_mode_posts_to_the_callback_which_captures_and_sends_the_browser_on(
    server, api, user, address, catalog
):
    variant, slot, plan = catalog
    client = api(server, user)
    fill_mixed_cart(client, variant=variant, slot=slot, plan_code=plan.code)
    payment = client.post(
        "/api/payments/create-from-cart/",
        json={
            "gateway": "razorpay",
            "shipping_address_id": address.pk,
            "redirect_url": "http://localhost:3000/confirmbooking",
        },
    ).json()
    checkout = payment["checkout"]
    assert checkout["key"] == checkout["key_id"] and checkout["key"].startswith("rzp_")
    assert checkout["callback_url"] == f"{server}/api/payments/callback/razorpay/"
    fields = httpx.post(f"{checkout['sandbox_checkout_url']}pay", json={"outcome": "success"}, timeout=30).json()
    # Checkout's redirect mode: the browser form-POSTs the fields (no sign-in, no CSRF token) to callback_url.
    back = httpx.post(checkout["callback_url"], data=fields, follow_redirects=False, timeout=30)
    assert back.status_code == 303, back.text
    target = urlsplit(back.headers["location"])
    assert (target.netloc, target.path) == ("localhost:3000", "/confirmbooking")
    assert parse_qs(target.query) == {"payment_id": [str(payment["id"])], "status": ["success"]}
    record = Payment.objects.get(pk=payment["id"])
    assert record.status == S.CAPTURED and record.events.filter(to_status=S.CAPTURED, source="confirm").exists()
    assert_fulfilled(record, variant=variant, slot=slot)
    forged = httpx.post(checkout["callback_url"], data={**fields, "razorpay_signature": "0" * 64}, timeout=30)
    assert forged.status_code == 400 and forged.json()["error"]["code"] == "invalid_signature"
