"""Customer journeys through the storefront, in chromium, against the demo servers: each ends on what the customer
sees (the confirmation page, the cancelled booking) and keeps a screenshot of it."""

from __future__ import annotations

import itertools
import json
import re
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

PASSWORD = "Lotus-pond-2026"
SANDBOX_PAY = re.compile(r"^Pay ₹")  # the sandbox's hosted pages: "Pay ₹898.00"
_users = itertools.count(1)


def api(server, path: str, body: dict | None = None) -> dict:  # type: ignore[no-untyped-def]
    request = urllib.request.Request(
        server.base_url + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def new_customer(server) -> str:  # type: ignore[no-untyped-def]
    email = f"devotee{next(_users)}.{time.time_ns()}@example.com"
    api(server, "/api/auth/register/", {"email": email, "password": PASSWORD, "full_name": "Meera Krishnan"})
    return email


def sign_in(page: Page, server, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server.base_url + "/signin/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="My account")).to_be_visible()


def shot(page: Page, screenshot_dir: Path, name: str) -> None:
    page.screenshot(path=str(screenshot_dir / f"{name}.png"), full_page=True)


def service_id(server, name: str) -> int:  # type: ignore[no-untyped-def]
    return next(s["id"] for s in api(server, "/api/catalog/services/")["results"] if s["name"] == name)


def pick_day(page: Page, at_least: date) -> str:
    """Click the first day in the calendar with places left on or after `at_least`, moving on a month if needed."""
    for _ in range(3):
        page.locator("[data-calendar][data-loaded]").wait_for()
        for button in page.locator("button.day:not([disabled])").all():
            day = button.get_attribute("data-date")
            if day and date.fromisoformat(day) >= at_least:
                button.click()
                page.locator("[data-times] input").first.wait_for()
                return day
        page.get_by_role("button", name="Next month").click()
    raise AssertionError("No bookable day in the calendar.")


def add_puja_to_cart(  # type: ignore[no-untyped-def]
    page: Page, server, *, days_ahead: int = 2, package: str = "Basic", screenshot: Path | None = None
) -> str:
    page.goto(f"{server.base_url}/services/{service_id(server, 'Satyanarayan Puja')}/")
    page.get_by_label(package, exact=False).check()
    day = pick_day(page, date.today() + timedelta(days=days_ahead))
    page.locator("[data-times] input:not([disabled])").first.check()
    page.get_by_label("Devotee's name").fill("Meera Krishnan")
    page.get_by_label("Note for the priest").fill("Gotra: Bharadwaj; griha shanti")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    if screenshot is not None:
        page.screenshot(path=str(screenshot), full_page=True)
    page.get_by_role("button", name="Add booking to cart").click()
    expect(page.get_by_role("heading", name="Your cart")).to_be_visible()
    return day


def pay_with_phonepe(page: Page, outcome: str = "Pay") -> None:
    page.get_by_label("PhonePe").check()
    page.locator("[data-pay]").click()
    page.wait_for_url("**/sandbox/phonepe/pay/**")
    page.get_by_role("button", name=SANDBOX_PAY if outcome == "Pay" else outcome).click()
    page.wait_for_url("**/confirmbooking?**")


def test_buy_a_product_with_razorpay(page: Page, demo_server, screenshot_dir):  # type: ignore[no-untyped-def]
    sign_in(page, demo_server, new_customer(demo_server))
    page.goto(demo_server.base_url + "/account/addresses/")
    page.get_by_label("Full name").fill("Meera Krishnan")
    page.get_by_label("Mobile number").fill("+919812345678")
    page.get_by_label("Address line 1").fill("14 Temple Street, Mylapore")
    page.get_by_label("City").fill("Chennai")
    page.get_by_label("State").fill("Tamil Nadu")
    page.get_by_label("PIN code").fill("600004")
    page.get_by_role("button", name="Save address").click()
    expect(page.get_by_text("14 Temple Street, Mylapore")).to_be_visible()

    page.goto(demo_server.base_url + "/?q=diya")
    page.get_by_role("link", name="Brass Diya").click()
    page.get_by_label("Medium (5 inch)").check()
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("[data-total]")).to_have_text("₹898.00")

    page.get_by_role("link", name="Proceed to checkout").click()
    expect(page.get_by_label("14 Temple Street", exact=False)).to_be_checked()
    page.get_by_label("Razorpay").check()
    with page.expect_popup() as popup_info:
        page.get_by_role("button", name="Pay ₹898.00").click()
    popup = popup_info.value
    popup.wait_for_url("**/sandbox/razorpay/checkout/**")
    shot(popup, screenshot_dir, "razorpay-sandbox-checkout")
    popup.get_by_role("button", name=SANDBOX_PAY).click()

    page.wait_for_url("**/confirmbooking?payment_id=*")
    expect(page.get_by_role("heading", name="Thank you! Your payment is confirmed.")).to_be_visible(timeout=30_000)
    expect(page.locator("[data-fulfilments]")).to_contain_text("2 × Brass Diya — Medium (5 inch)")
    expect(page.locator("[data-amount]")).to_have_text("₹898.00")
    # The GST tax invoice issued with the capture, opened as a PDF with the customer's own token.
    invoice = page.locator("[data-documents] button", has_text="Tax Invoice INV/")
    expect(invoice).to_be_visible()
    with page.expect_popup() as pdf_info:
        invoice.click()
    pdf = pdf_info.value
    pdf.wait_for_url(re.compile(r"^blob:"), wait_until="commit")
    pdf.close()
    shot(page, screenshot_dir, "product-razorpay-confirmed")


def test_book_a_puja_slot_from_the_calendar_with_phonepe(page: Page, demo_server, screenshot_dir):  # type: ignore[no-untyped-def]
    sign_in(page, demo_server, new_customer(demo_server))
    add_puja_to_cart(page, demo_server, screenshot=screenshot_dir / "service-calendar.png")
    expect(page.locator("[data-lines]")).to_contain_text("for Meera Krishnan")
    page.get_by_role("link", name="Proceed to checkout").click()
    pay_with_phonepe(page)

    expect(page.get_by_role("heading", name="Thank you! Your payment is confirmed.")).to_be_visible(timeout=30_000)
    expect(page.locator("[data-fulfilments]")).to_contain_text("Booking BK-")
    expect(page.locator("[data-fulfilments]")).to_contain_text("for Meera Krishnan")
    shot(page, screenshot_dir, "puja-phonepe-confirmed")


def test_a_failed_payment_and_a_successful_retry(page: Page, demo_server, screenshot_dir):  # type: ignore[no-untyped-def]
    sign_in(page, demo_server, new_customer(demo_server))
    add_puja_to_cart(page, demo_server, package="Standard")
    page.get_by_role("link", name="Proceed to checkout").click()
    pay_with_phonepe(page, outcome="Fail payment")

    expect(page.get_by_role("heading", name="Payment not completed")).to_be_visible(timeout=30_000)
    shot(page, screenshot_dir, "payment-failed")
    page.get_by_role("link", name="Try again").click()
    pay_with_phonepe(page)
    expect(page.get_by_role("heading", name="Thank you! Your payment is confirmed.")).to_be_visible(timeout=30_000)
    expect(page.locator("[data-amount]")).to_have_text("₹3,500.00")


def test_a_promo_code(page: Page, demo_server, screenshot_dir):  # type: ignore[no-untyped-def]
    sign_in(page, demo_server, new_customer(demo_server))
    add_puja_to_cart(page, demo_server)
    page.get_by_label("Promo code").fill("NOSUCHCODE")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("[data-flash]")).to_be_visible()
    page.get_by_label("Promo code").fill("puja500")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("[data-discount]")).to_have_text("− ₹500.00")
    expect(page.locator("[data-total]")).to_have_text("₹1,600.00")
    shot(page, screenshot_dir, "cart-promo")

    page.get_by_role("link", name="Proceed to checkout").click()
    with page.expect_popup() as popup_info:
        page.get_by_role("button", name="Pay ₹1,600.00").click()
    popup_info.value.get_by_role("button", name=SANDBOX_PAY).click()
    expect(page.get_by_role("heading", name="Thank you! Your payment is confirmed.")).to_be_visible(timeout=30_000)
    expect(page.locator("[data-amount]")).to_have_text("₹1,600.00")


def test_a_customer_cancels_a_booking(page: Page, demo_server, screenshot_dir):  # type: ignore[no-untyped-def]
    sign_in(page, demo_server, new_customer(demo_server))
    add_puja_to_cart(page, demo_server, days_ahead=3)
    page.get_by_role("link", name="Proceed to checkout").click()
    pay_with_phonepe(page)
    expect(page.get_by_role("heading", name="Thank you! Your payment is confirmed.")).to_be_visible(timeout=30_000)
    book_id = page.locator("[data-fulfilments] strong").first.inner_text().removeprefix("Booking ")

    page.get_by_role("link", name="See my orders and bookings").click()
    card = page.locator(f'[data-booking="{book_id}"]')
    expect(card).to_contain_text("Confirmed")
    card.get_by_role("button", name="Cancel booking").click()
    card.get_by_role("button", name=f"Yes, cancel {book_id}").click()
    expect(page.locator("[data-flash]")).to_contain_text(f"Booking {book_id} is cancelled")
    expect(page.locator(f'[data-booking="{book_id}"]')).to_contain_text("Cancelled")
    shot(page, screenshot_dir, "booking-cancelled")


def test_booking_a_puja_at_phone_width(phone_page: Page, demo_server, screenshot_dir):  # type: ignore[no-untyped-def]
    page = phone_page
    sign_in(page, demo_server, new_customer(demo_server))
    page.goto(demo_server.base_url + "/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, screenshot_dir, "phone-catalog")
    add_puja_to_cart(page, demo_server, screenshot=screenshot_dir / "phone-service-calendar.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_role("link", name="Proceed to checkout").click()
    pay_with_phonepe(page)
    expect(page.get_by_role("heading", name="Thank you! Your payment is confirmed.")).to_be_visible(timeout=30_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, screenshot_dir, "phone-puja-confirmed")


def test_rupees_are_grouped_the_indian_way_from_integer_paise(page: Page, demo_server):  # type: ignore[no-untyped-def]
    page.goto(demo_server.base_url + "/")  # a page that stays put when nobody is signed in
    page.wait_for_function("typeof window.payfirstMoney === 'function'")
    money = page.evaluate("[0, 5, 99900, 12345600, 1234567800, 9007199254740991, 1.5].map(window.payfirstMoney)")
    assert money == [
        "₹0.00",
        "₹0.05",
        "₹999.00",
        "₹1,23,456.00",
        "₹1,23,45,678.00",
        "₹9,00,71,99,25,47,409.91",
        "—",
    ]


def test_signing_in_and_choosing_a_date_and_time_with_the_keyboard_alone(page: Page, demo_server):  # type: ignore[no-untyped-def]
    email = new_customer(demo_server)
    page.goto(demo_server.base_url + "/signin/")
    page.keyboard.press("Tab")  # the skip link comes first
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.get_by_label("Email").focus()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="My account")).to_be_visible()

    page.goto(f"{demo_server.base_url}/services/{service_id(demo_server, 'Satyanarayan Puja')}/")
    page.locator("[data-calendar][data-loaded]").wait_for()
    if page.locator("button.day:not([disabled])").count() == 0:
        page.get_by_role("button", name="Next month").focus()
        page.keyboard.press("Enter")
        page.locator("[data-calendar][data-loaded]").wait_for()
    day = page.locator("button.day:not([disabled])").first
    day.focus()
    page.keyboard.press("Enter")
    expect(day).to_have_attribute("aria-pressed", "true")
    first_time = page.locator("[data-times] input:not([disabled])").first
    first_time.focus()
    page.keyboard.press("Space")
    expect(first_time).to_be_checked()
