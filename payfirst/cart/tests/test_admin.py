"""The cart admin: carts read-only with lines inline and one action to abandon; promo codes editable, uses counted."""

from __future__ import annotations

import pytest

from payfirst.cart import services
from payfirst.cart.models import Cart, CartStatus, PromoCode, PromoRedemption
from payfirst.testing.factories import make_promo, make_variant

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_web(client, make_user):
    client.force_login(make_user(is_staff=True, is_superuser=True))
    return client


def test_cart_pages_show_the_lines_and_allow_no_edits(admin_web, user):
    services.add_product(user=user, variant_id=make_variant(product_name="Brass Diya").pk, quantity=2)
    cart = Cart.objects.get()
    listing = admin_web.get("/admin/cart/cart/", {"q": user.email})
    assert listing.status_code == 200 and cart.cart_id in listing.content.decode()
    page = admin_web.get(f"/admin/cart/cart/{cart.pk}/change/")
    assert page.status_code == 200 and "Brass Diya" in page.content.decode()
    assert admin_web.get("/admin/cart/cart/add/").status_code == 403


def test_mark_abandoned_moves_only_active_carts(admin_web, user, other_user):
    active = services.refresh_cart(user=user).cart
    converted = services.refresh_cart(user=other_user).cart
    Cart.objects.filter(pk=converted.pk).update(status=CartStatus.CONVERTED)
    response = admin_web.post(
        "/admin/cart/cart/", {"action": "mark_abandoned", "_selected_action": [active.pk, converted.pk]}
    )
    assert response.status_code == 302
    assert Cart.objects.get(pk=active.pk).status == CartStatus.ABANDONED
    assert Cart.objects.get(pk=converted.pk).status == CartStatus.CONVERTED


def test_promo_codes_are_created_in_the_admin_upper_case_and_uses_are_read_only(admin_web):
    response = admin_web.post(
        "/admin/cart/promocode/add/",
        {
            "code": " diwali15 ",
            "kind": "PERCENT",
            "percent_bp": 1500,
            "flat_amount": 0,
            "min_subtotal": 0,
            "applies_to": "",
            "is_active": "on",
            "uses_count": 99,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    promo = PromoCode.objects.get()
    assert (promo.code, promo.percent_bp, promo.uses_count) == ("DIWALI15", 1500, 0)
    assert admin_web.get(f"/admin/cart/promocode/{promo.pk}/change/").status_code == 200
    assert admin_web.get("/admin/cart/promocode/", {"q": "diwali"}).status_code == 200


def test_redemptions_are_listed_and_cannot_be_added_or_deleted(admin_web, user):
    promo = make_promo(code="USED")
    services.record_promo_use(promo_id=promo.pk, user_id=user.pk, payment_reference="PAY-9", discount=100)
    redemption = PromoRedemption.objects.get()
    assert "PAY-9" in admin_web.get("/admin/cart/promoredemption/").content.decode()
    assert admin_web.get("/admin/cart/promoredemption/add/").status_code == 403
    assert admin_web.get(f"/admin/cart/promoredemption/{redemption.pk}/delete/").status_code == 403
