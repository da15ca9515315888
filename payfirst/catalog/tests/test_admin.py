"""The catalog admin: pages render, stock changes apply to the live row, and reserved/taken are never written back."""

from __future__ import annotations

import re
from datetime import date, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from payfirst.catalog.models import Plan, Product, Slot, Variant
from payfirst.testing.factories import (
    make_package,
    make_plan,
    make_product,
    make_service,
    make_slot,
    make_variant,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user(email="merchant@example.com", is_staff=True, is_superuser=True))
    return client


def _product_form(product: Product, variants: list[dict], extra: list[dict] | None = None) -> dict[str, str]:
    rows = variants + (extra or [])
    data = {
        "name": product.name,
        "slug": product.slug,
        "description": product.description,
        "is_active": "on",
        "variants-TOTAL_FORMS": str(len(rows)),
        "variants-INITIAL_FORMS": str(len(variants)),
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"variants-{index}-{key}"] = str(value)
    return data


def _variant_row(variant: Variant, **changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": variant.pk,
        "product": variant.product_id,
        "sku": variant.sku,
        "name": variant.name,
        "price": variant.price,
        "stock_change": 0,
        "is_active": "on",
    }
    row.update(changes)
    return row


def test_admin_pages_render_for_the_merchant(admin_client):
    product = make_product()
    make_variant(product=product)
    service = make_service()
    make_package(service=service)
    slot = make_slot(service=service, on=timezone.localdate() + timedelta(days=1), at=time(7, 0), taken=1)
    plan = make_plan(code="monthly-basic")
    pages = [
        reverse("admin:catalog_product_changelist"),
        reverse("admin:catalog_product_change", args=[product.pk]),
        reverse("admin:catalog_product_add"),
        reverse("admin:catalog_variant_changelist"),
        reverse("admin:catalog_service_changelist"),
        reverse("admin:catalog_service_change", args=[service.pk]),
        reverse("admin:catalog_slot_changelist") + f"?service__id__exact={service.pk}&when=upcoming",
        reverse("admin:catalog_slot_change", args=[slot.pk]),
        reverse("admin:catalog_plan_changelist"),
        reverse("admin:catalog_plan_change", args=[plan.pk]),
    ]
    for url in pages:
        assert admin_client.get(url).status_code == 200, url
    slot_list = admin_client.get(reverse("admin:catalog_slot_changelist")).content.decode()
    assert "remaining" in slot_list


def test_admin_product_search_by_sku_finds_the_product_once_with_its_true_variant_count(admin_client):
    kurta = make_product(name="Kurta")
    for sku in ("KURTA-S", "KURTA-M", "KURTA-L"):
        make_variant(product=kurta, sku=sku)
    make_variant(product=make_product(name="Diya"), sku="DIYA-S")

    html = admin_client.get(reverse("admin:catalog_product_changelist"), {"q": "kurta-"}).content.decode()

    assert re.findall(r'<td class="field-variant_count">(\d+)</td>', html) == ["3"]


def test_admin_stock_change_is_added_to_the_row_as_it_is_now(admin_client):
    product = make_product()
    variant = make_variant(product=product, price=24900, stock=10, reserved=2)
    data = _product_form(product, [_variant_row(variant, price=26900, stock_change=5)])
    # While the page was open, a payment captured 2 units and another reserved 3.
    Variant.objects.filter(pk=variant.pk).update(stock_on_hand=8, reserved=3)

    response = admin_client.post(reverse("admin:catalog_product_change", args=[product.pk]), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    variant.refresh_from_db()
    assert (variant.price, variant.stock_on_hand, variant.reserved) == (26900, 13, 3)


def test_admin_cannot_write_off_stock_held_by_pending_payments(admin_client):
    product = make_product()
    variant = make_variant(product=product, name="Small", stock=5, reserved=4)
    data = _product_form(product, [_variant_row(variant, name="Renamed", stock_change=-2)])

    response = admin_client.post(reverse("admin:catalog_product_change", args=[product.pk]), data)

    assert response.status_code == 200  # the form again, with the error
    assert "Only 1 unit(s) are not held by pending payments" in response.content.decode()
    variant.refresh_from_db()
    assert (variant.name, variant.stock_on_hand, variant.reserved) == ("Small", 5, 4)  # nothing was saved


def test_admin_adds_a_product_with_variants_and_their_opening_stock(admin_client):
    data = _product_form(
        Product(name="Camphor Tablets", slug="camphor", description="Bhimseni kapur"),
        [],
        extra=[{"sku": "KAPUR-100", "name": "100 g", "price": 14900, "stock_change": 50, "is_active": "on"}],
    )

    response = admin_client.post(reverse("admin:catalog_product_add"), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    variant = Variant.objects.get(sku="KAPUR-100")
    assert (variant.product.slug, variant.stock_on_hand, variant.reserved, variant.price) == ("camphor", 50, 0, 14900)


def _slot_form(slot: Slot, **changes: object) -> dict[str, str]:
    data: dict[str, object] = {
        "service": slot.service_id,
        "date": slot.date.isoformat(),
        "time": slot.time.strftime("%H:%M"),
        "capacity": slot.capacity,
        "is_active": "on",
    }
    data.update(changes)
    return {key: str(value) for key, value in data.items()}


def test_admin_slot_capacity_change_keeps_the_live_taken_count(admin_client):
    slot = make_slot(service=make_service(), on=date(2030, 1, 1), at=time(7, 0), capacity=3, taken=1)
    data = _slot_form(slot, capacity=5)
    Slot.objects.filter(pk=slot.pk).update(taken=2)  # a reservation made while the page was open

    response = admin_client.post(reverse("admin:catalog_slot_change", args=[slot.pk]), data)

    assert response.status_code == 302
    slot.refresh_from_db()
    assert (slot.capacity, slot.taken) == (5, 2)


def test_admin_slot_capacity_cannot_go_below_taken_and_a_taken_slot_cannot_move(admin_client):
    slot = make_slot(service=make_service(), on=date(2030, 1, 1), at=time(7, 0), capacity=3, taken=2)
    url = reverse("admin:catalog_slot_change", args=[slot.pk])

    too_small = admin_client.post(url, _slot_form(slot, capacity=1))
    moved = admin_client.post(url, _slot_form(slot, time="08:00"))

    assert too_small.status_code == 200 and "capacity cannot be lower" in too_small.content.decode()
    assert moved.status_code == 200 and "cannot move" in moved.content.decode()
    slot.refresh_from_db()
    assert (slot.capacity, slot.taken, slot.time) == (3, 2, time(7, 0))


def test_admin_copies_slots_to_next_week_once(admin_client):
    service = make_service()
    slot = make_slot(service=service, on=date(2030, 1, 1), at=time(7, 0), capacity=1, taken=1)
    url = reverse("admin:catalog_slot_changelist")
    action = {"action": "copy_to_next_week", "_selected_action": [str(slot.pk)]}

    admin_client.post(url, action)
    admin_client.post(url, action)

    copy = Slot.objects.get(service=service, date=date(2030, 1, 8))
    assert (copy.time, copy.capacity, copy.taken) == (time(7, 0), 1, 0)
    assert Slot.objects.count() == 2


def test_admin_plan_code_cannot_change_once_made(admin_client):
    plan = make_plan(code="quarterly", price=79900, duration_days=90)
    data = {"code": "renamed", "name": "Quarterly", "price": "89900", "duration_days": "90", "is_active": "on"}

    response = admin_client.post(reverse("admin:catalog_plan_change", args=[plan.pk]), data)

    assert response.status_code == 302
    assert list(Plan.objects.values_list("code", "price")) == [("quarterly", 89900)]
