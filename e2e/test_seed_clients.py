"""The merchants' existing front-end code, run in a browser against the demo servers.

The seeds' snippets are read at run time, verbatim, from `<repo>/../shared/seeds/` (CI has that folder beside the
clone). The only changes are the documented one-line fixes to the seeds' own bugs (docs/seed-clients.md), applied
below in SEED_000_FIXES / SEED_002_FIXES where anyone can see them; each must match the seed text exactly once.

What the seeds use but do not show is written here as the merchant's own glue: the auth token, seed 000's
`CartManager`, seed 002's axios-like `api`, `getCartIdFromStorage`, and the part of seed 002's React
`ConfirmBooking` component that runs in the browser (its effect: poll, then show the booking). Razorpay's
checkout.js is replaced by a stand-in `window.Razorpay` that opens the sandbox's hosted Checkout page and, when the
customer pays there, calls the options' `handler` with the signed fields, as checkout.js does.

The pages live on the app's origin (served by `page.route`), so the seeds' relative `/api/...` calls are same-origin.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

pytestmark = pytest.mark.browser

SEEDS = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"

# The documented fixes (docs/seed-clients.md): (what the seed says, what it must say). Nothing else is changed.
SEED_000_FIXES = [
    # The payment's amount is already in paise.
    ("amount: paymentData.amount * 100, // Amount in paise", "amount: paymentData.amount, // already in paise"),
    # payfirst's errors are {"error": {"code", "message"}}: the message is error.error.message.
    (
        "throw new Error(error.error || 'Payment creation failed');",
        "throw new Error((error.error && error.error.message) || 'Payment creation failed');",
    ),
    (
        "throw new Error(error.error || 'Payment confirmation failed');",
        "throw new Error((error.error && error.error.message) || 'Payment confirmation failed');",
    ),
    # A payment the bank refused is not "cancelled by user": listen for Checkout's payment.failed.
    (
        "const rzp = new Razorpay(options);",
        "const rzp = new Razorpay(options); rzp.on('payment.failed', (r) => reject(new Error(r.error.description)));",
    ),
]
SEED_002_FIXES = [
    # A payment lives for 15 minutes (PAYMENT_EXPIRY_MINUTES), not 30 seconds.
    ("const maxAttempts = 30; // 30 seconds", "const maxAttempts = 900; // 15 minutes, as long as a payment lives"),
]
# In ConfirmBooking (JSX, played by the glue below): `₹{bookingData.payment_amount}` shows paise as rupees; the glue
# shows `₹{(bookingData.payment_amount / 100).toFixed(2)}`, the documented fix.

IST = ZoneInfo("Asia/Kolkata")


def seed_text(prefix: str) -> str:
    if not SEEDS.is_dir():
        pytest.fail(f"The seeds folder {SEEDS} is missing: the browser tests run the seeds' code from it.")
    found = sorted(SEEDS.glob(f"{prefix}_*.txt"))
    if len(found) != 1:
        pytest.fail(f"Expected exactly one seed {prefix}_*.txt in {SEEDS}, found {[p.name for p in found]}.")
    return found[0].read_text(encoding="utf-8")


def code_block(text: str, heading: str) -> str:
    """The first ```javascript block after the line `heading`."""
    lines = text.splitlines()
    try:
        start = lines.index(heading)
    except ValueError:
        pytest.fail(f"The seed has no heading {heading!r}.")
    opening = next(i for i in range(start + 1, len(lines)) if lines[i].strip().startswith("```"))
    if lines[opening].strip() != "```javascript":
        pytest.fail(f"The block after {heading!r} is not JavaScript.")
    closing = next(i for i in range(opening + 1, len(lines)) if lines[i].strip() == "```")
    return "\n".join(lines[opening + 1 : closing])


def with_fixes(source: str, fixes: list[tuple[str, str]]) -> str:
    """The seed's code with the documented fixes; a fix that does not match the seed exactly once fails the test."""
    for old, new in fixes:
        if source.count(old) != 1:
            pytest.fail(f"The documented fix for {old!r} does not match the seed's code exactly once.")
        source = source.replace(old, new)
    return source


def script(source: str, *, module: bool = False) -> str:
    if "</script" in source.lower():
        pytest.fail("A seed snippet contains </script>; it cannot be embedded.")
    return f"<script{' type=module' if module else ''}>\n{source}\n</script>"


def page_html(title: str, *parts: str) -> str:
    body = "\n".join(parts)
    return f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head><body>{body}</body></html>'


# ---- the merchant's glue ------------------------------------------------------------------------------------------

CART_MANAGER = """
// The merchant's CartManager, which seed 000 uses without showing: payfirst's own cart endpoints.
class CartManager {
  constructor(token) { this.token = token; }
  async getCart(refresh) {
    const r = await fetch('/api/cart/', {headers: {'Authorization': `Bearer ${this.token}`}});
    return r.json();
  }
  async clearCart() {
    await fetch('/api/cart/', {method: 'DELETE', headers: {'Authorization': `Bearer ${this.token}`}});
  }
}
"""

RAZORPAY_STAND_IN = """
// Stand-in for Razorpay's checkout.js: open() shows the sandbox's hosted Checkout page in a popup. What the customer
// does there comes back through razorpayCheckoutResult(ok, body) (the test reads the page's result and hands it
// over, as checkout.js relays its own frame's result): success calls the options' handler with the signed fields.
window.Razorpay = function (options) {
  const listeners = {};
  this.on = (name, callback) => { listeners[name] = callback; };
  this.open = () => {
    window.razorpayOptionsSeen = {amount: options.amount, currency: options.currency, order_id: options.order_id,
                                  description: options.description};
    window.razorpayCheckoutResult = (ok, body) => {
      if (ok) { options.handler(body); return; }
      if (listeners['payment.failed']) { listeners['payment.failed']({error: (body || {}).error || {}}); return; }
      if (options.modal && options.modal.ondismiss) options.modal.ondismiss();
    };
    window.open(`${SANDBOX_URL}/sandbox/razorpay/checkout/${options.order_id}/`, 'razorpay-checkout');
  };
};
"""

AXIOS_LIKE_API = """
// The merchant's `api` (an axios instance in seed 002's Next.js app): JSON, the Bearer token, throws on non-2xx.
const api = {
  async request(method, url, data) {
    const response = await fetch(url, {method, headers: {'Authorization': `Bearer ${AUTH_TOKEN}`,
      'Content-Type': 'application/json'}, body: data === undefined ? undefined : JSON.stringify(data)});
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const error = new Error(`Request failed with status code ${response.status}`);
      error.response = {status: response.status, data: body};
      throw error;
    }
    return {status: response.status, data: body};
  },
  post(url, data) { return this.request('POST', url, data); },
  get(url) { return this.request('GET', url); },
};
const getCartIdFromStorage = () => localStorage.getItem('seedCartId');
const clearCartFromStorage = () => localStorage.removeItem('seedCartId');
"""

BOOK = """
// The merchant's booking button: seed 002's helpers, in the order its document gives.
(async () => {
  const cart = await createCart(CART_DATA);
  localStorage.setItem('seedCartId', cart.cart_id);
  await initiatePayment(cart.cart_id);
})().catch((error) => { document.getElementById('outcome').textContent = `Booking failed: ${error.message}`; });
"""

CONFIRM_BOOKING = """
// What seed 002's ConfirmBooking component does in the browser (its useEffect and its three renders).
(async () => {
  const outcome = document.getElementById('outcome');
  outcome.textContent = 'Verifying payment...';
  const params = new URLSearchParams(window.location.search);
  if (params.get('redirect_source') !== 'phonepe') { outcome.textContent = 'Not a PhonePe return'; return; }
  try {
    const cartId = getCartIdFromStorage();
    if (!cartId) { outcome.textContent = 'Payment verification failed'; return; }
    const bookingData = await pollPaymentStatus(cartId);
    clearCartFromStorage();
    outcome.innerHTML = '<h1>Booking Confirmed!</h1>'
      + `<p id="booking-id">Booking ID: ${bookingData.booking_id}</p>`
      + `<p id="amount-paid">Amount Paid: ₹${(bookingData.payment_amount / 100).toFixed(2)}</p>`;
  } catch (error) {
    console.error('Payment verification failed:', error);
    outcome.textContent = 'Payment verification failed';
  }
})();
"""


# ---- helpers ------------------------------------------------------------------------------------------------------


def sign_up(base_url: str) -> str:
    email = f"seed-{uuid.uuid4().hex[:10]}@example.com"
    password = "a-long-demo-password-1"
    with httpx.Client(base_url=base_url, timeout=30) as client:
        registered = client.post(
            "/api/auth/register/",
            json={"email": email, "password": password, "full_name": "Prince Kumar", "phone": "+919876543210"},
        )
        assert registered.status_code == 201, registered.text
        token = client.post("/api/auth/token/", json={"email": email, "password": password})
        assert token.status_code == 200, token.text
        return token.json()["access"]


def api(base_url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {token}"})


def watch(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Dialogs (the seeds alert() on failure) and page errors, for the assertions and for a failure's message."""
    problems: list[str] = []

    def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
        problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: message.type == "error" and problems.append(f"console: {message.text}"))
    return problems


def serve(page, url_pattern: str | re.Pattern[str], html: str) -> None:  # type: ignore[no-untyped-def]
    page.route(url_pattern, lambda route: route.fulfill(status=200, content_type="text/html", body=html))


# ---- seed 000: a product bought through RazorpayCheckout ---------------------------------------------------------


def test_seed_000_razorpay_checkout_buys_a_product(demo_server, page, screenshot_dir):
    base, sandbox = demo_server.base_url, demo_server.sandbox_url
    text = seed_text("000")
    checkout_class = code_block(text, "### 1. Razorpay Checkout Implementation")
    usage = code_block(text, "### 2. Usage Example")
    token = sign_up(base)
    with api(base, token) as client:
        variant = next(
            v
            for product in client.get("/api/catalog/products/").json()["results"]
            for v in product["variants"]
            if v["stock"] > 0
        )
        assert client.post("/api/cart/add/", json={"variant_id": variant["id"], "quantity": 1}).status_code == 201

    glue = f"var authToken = {json.dumps(token)};\nconst SANDBOX_URL = {json.dumps(sandbox)};\n"
    serve(
        page,
        f"{base}/seed/000/checkout",
        page_html(
            "seed 000 checkout",
            script(glue + CART_MANAGER + RAZORPAY_STAND_IN),
            script(with_fixes(checkout_class, SEED_000_FIXES)),
            script(usage, module=True),
        ),
    )
    serve(page, re.compile(re.escape(base) + r"/order-success/.*"), page_html("order placed", "<h1>Thank you</h1>"))
    problems = watch(page)

    with page.expect_popup() as opened:
        page.goto(f"{base}/seed/000/checkout")
    checkout_page = opened.value
    checkout_page.wait_for_load_state()
    assert checkout_page.url.startswith(f"{sandbox}/sandbox/razorpay/checkout/order_")
    checkout_page.click("#pay")
    checkout_page.wait_for_function("document.getElementById('result').textContent.startsWith('Payment successful.')")
    signed = json.loads(checkout_page.inner_text("#result").split("\n", 1)[1])
    assert set(signed) == {"razorpay_payment_id", "razorpay_order_id", "razorpay_signature"}
    checkout_page.close()
    seen = page.evaluate("window.razorpayOptionsSeen")  # what the seed gave Checkout (the page navigates next)
    page.evaluate("signed => window.razorpayCheckoutResult(true, signed)", signed)
    page.wait_for_url(re.compile(re.escape(base) + r"/order-success/\d+$"))
    page.screenshot(path=str(screenshot_dir / "seed-000-order-success.png"))

    order_id = int(page.url.rsplit("/", 1)[1])
    with api(base, token) as client:
        order = client.get(f"/api/orders/{order_id}/").json()
        payment = client.get(f"/api/payments/{order['payment_id']}/").json()
    assert [item["variant_id"] for item in order["items"]] == [variant["id"]]
    assert order["shipping_address"]["city"] == "Purnia" and order["shipping_address"]["phone"] == "+919876543210"
    assert payment["status"] == "CAPTURED" and payment["amount"] == order["total"] == variant["price"]
    assert seen["amount"] == payment["amount"] and seen["order_id"] == payment["razorpay_order_id"]
    assert seen["description"] == "Payment for 1 items"  # cart_items_count reached the seed
    assert problems == [], problems


# ---- seed 002: a puja booked through the cart, PhonePe and confirmbooking ----------------------------------------


def _puja_slot(base_url: str) -> tuple[dict, dict, dict]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        services = client.get("/api/catalog/services/").json()["results"]
        tomorrow = (datetime.now(IST) + timedelta(days=1)).date()
        for service in services:
            if service["service_type"] != "PUJA" or not service["packages"]:
                continue
            for offset in range(7):
                day = (tomorrow + timedelta(days=offset)).isoformat()
                slots = client.get(f"/api/catalog/services/{service['id']}/slots/", params={"date": day}).json()
                rows = slots["results"] if isinstance(slots, dict) else slots
                free = [slot for slot in rows if slot["remaining"] > 0]
                if free:
                    return service, service["packages"][0], free[0]
    pytest.fail("The demo catalog has no PUJA service with a free slot in the next week.")


def test_seed_002_cart_phonepe_and_confirmbooking_book_a_puja(demo_server, page, screenshot_dir):
    base, sandbox = demo_server.base_url, demo_server.sandbox_url
    text = seed_text("002")
    cart_helpers = code_block(text, "### 1. Cart Management")
    payment_helpers = code_block(text, "### 2. Payment Processing")
    polling = code_block(text, "### 3. Payment Status Polling")
    token = sign_up(base)
    service, package, slot = _puja_slot(base)
    twelve_hour = datetime.strptime(slot["time"], "%H:%M").strftime("%I:%M %p").lstrip("0")  # "10:00 AM"
    cart_data = {
        "service_type": "PUJA",
        "puja_service": service["id"],
        "package": package["id"],
        "selected_date": slot["date"],
        "selected_time": twelve_hour,
        "promo_code": None,
    }
    glue = f"const AUTH_TOKEN = {json.dumps(token)};\nconst CART_DATA = {json.dumps(cart_data)};\n" + AXIOS_LIKE_API
    seed_scripts = [
        script(glue),
        script(cart_helpers),
        script(payment_helpers),
        script(with_fixes(polling, SEED_002_FIXES)),
    ]
    serve(
        page, f"{base}/seed/002/book", page_html("book a puja", '<div id="outcome"></div>', *seed_scripts, script(BOOK))
    )
    serve(
        page,
        re.compile(re.escape(base) + r"/confirmbooking(\?.*)?$"),
        page_html("confirm booking", '<div id="outcome"></div>', *seed_scripts, script(CONFIRM_BOOKING)),
    )
    returns: list[str] = []

    def phonepe_return(route) -> None:  # type: ignore[no-untyped-def]
        # Playwright cannot route a request the browser reaches through an HTTP redirect, so payfirst's own
        # return address is fetched here (it asks PhonePe and answers 302) and its Location followed in the page.
        answer = route.fetch(max_redirects=0)
        assert answer.status == 302, answer.text()
        returns.append(answer.headers["location"])
        html = f"<script>window.location.replace({json.dumps(answer.headers['location'])});</script>"
        route.fulfill(status=200, content_type="text/html", body=html)

    page.route(re.compile(re.escape(base) + r"/api/payments/redirect/phonepe/.*"), phonepe_return)
    problems = watch(page)

    page.goto(f"{base}/seed/002/book")
    page.wait_for_url(re.compile(re.escape(sandbox) + r"/sandbox/phonepe/pay/.+"))
    page.click("#pay")
    page.wait_for_url(re.compile(re.escape(base) + r"/confirmbooking\?.*"))
    page.wait_for_selector("#booking-id", timeout=60_000)
    page.screenshot(path=str(screenshot_dir / "seed-002-booking-confirmed.png"))

    [location] = returns
    target = urlsplit(location)
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{base}/confirmbooking"
    query = parse_qs(target.query)
    assert query["redirect_source"] == ["phonepe"] and query["status"] == ["success"]
    book_id = page.inner_text("#booking-id").removeprefix("Booking ID: ")
    with api(base, token) as client:
        bookings = client.get("/api/booking/bookings/").json()["results"]
        payments = client.get("/api/payments/").json()["results"]
    [booking] = bookings
    assert booking["book_id"] == book_id and booking["package"]["id"] == package["id"]
    assert booking["selected_date"] == slot["date"] and booking["selected_time"] == slot["time"]
    [payment] = payments
    assert payment["status"] == "CAPTURED" and payment["gateway"] == "phonepe" and payment["amount"] == package["price"]
    assert page.inner_text("#amount-paid") == f"Amount Paid: ₹{package['price'] // 100}.{package['price'] % 100:02d}"
    assert problems == [], problems
