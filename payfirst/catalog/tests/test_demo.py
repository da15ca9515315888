"""seed_demo: a believable catalog, idempotent, never resetting what payments moved, and refused outside a demo."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Model
from django.test import override_settings
from django.utils import timezone

from payfirst.catalog.demo import SLOT_DAYS, seed_catalog_demo
from payfirst.catalog.models import Plan, Product, Service, ServicePackage, Slot, Variant

pytestmark = pytest.mark.django_db

MODELS: tuple[type[Model], ...] = (Product, Variant, Service, ServicePackage, Slot, Plan)


def _snapshot() -> dict[str, list[dict[str, Any]]]:
    return {model.__name__: list(model._default_manager.order_by("pk").values()) for model in MODELS}


def test_seed_demo_twice_creates_once_then_changes_nothing():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    first = _snapshot()
    admins = list(get_user_model().objects.values())

    call_command("seed_demo", stdout=StringIO())

    assert _snapshot() == first  # same rows, same values, same updated_at
    assert list(get_user_model().objects.values()) == admins
    assert "admin@example.com / admin created" in out.getvalue()
    assert "slots:" in out.getvalue()


def test_seed_demo_loads_a_catalog_worth_demonstrating():
    call_command("seed_demo", stdout=StringIO())
    today = timezone.localdate()

    assert Product.objects.filter(is_active=True).count() >= 3
    assert {"brass-diya", "puja-thali-set", "cotton-kurta"} <= set(Product.objects.values_list("slug", flat=True))
    assert Variant.objects.filter(stock_on_hand__lt=10).exists()
    assert Variant.objects.filter(stock_on_hand=1).exists()
    assert Variant.objects.filter(price__gt=0).count() == Variant.objects.count()
    assert Service.objects.count() >= 2
    assert all(service.packages.count() >= 2 for service in Service.objects.all())
    assert Slot.objects.filter(capacity=1).exists()
    dates = sorted(set(Slot.objects.values_list("date", flat=True)))
    assert dates[0] == today and dates[-1] == today + timedelta(days=SLOT_DAYS - 1) and len(dates) == SLOT_DAYS
    assert Slot.objects.filter(date=today + timedelta(days=1)).count() >= 6  # several times a day
    assert set(Plan.objects.values_list("code", flat=True)) == {"monthly-basic", "quarterly", "annual"}

    admin = get_user_model().objects.get(email="admin@example.com")
    assert admin.is_staff and admin.is_superuser and admin.check_password("admin")


def test_seed_demo_never_resets_stock_or_slots_that_payments_moved_but_restores_prices():
    call_command("seed_demo", stdout=StringIO())
    diya = Variant.objects.get(sku="DIYA-BR-S")
    Variant.objects.filter(pk=diya.pk).update(stock_on_hand=3, reserved=2, price=100)
    slot = Slot.objects.filter(capacity__gt=1).order_by("pk").first()
    assert slot is not None
    Slot.objects.filter(pk=slot.pk).update(taken=slot.capacity)

    call_command("seed_demo", stdout=StringIO())

    diya.refresh_from_db()
    slot.refresh_from_db()
    assert (diya.stock_on_hand, diya.reserved, diya.price) == (3, 2, 24900)
    assert slot.taken == slot.capacity


def test_seed_demo_on_a_later_day_extends_the_slot_window():
    today = timezone.localdate()
    seed_catalog_demo(today=today)
    per_day = Slot.objects.filter(date=today).count()

    seed_catalog_demo(today=today + timedelta(days=2))

    assert Slot.objects.count() == per_day * (SLOT_DAYS + 2)
    assert Slot.objects.filter(date=today + timedelta(days=SLOT_DAYS + 1)).count() == per_day


def test_seed_demo_leaves_an_existing_account_with_the_demo_email_alone():
    user = get_user_model().objects.create_user(email="Admin@Example.com", password="their-own-secret", full_name="A")

    out = StringIO()
    call_command("seed_demo", stdout=out)

    user.refresh_from_db()
    assert not user.is_staff and not user.is_superuser and user.check_password("their-own-secret")
    assert get_user_model().objects.filter(email__iexact="admin@example.com").count() == 1
    assert "left unchanged" in out.getvalue()


@override_settings(DEMO=False, DEBUG=False)
def test_seed_demo_refuses_outside_demo_or_debug():
    with pytest.raises(CommandError, match="PAYFIRST_DEMO or DEBUG"):
        call_command("seed_demo", stdout=StringIO())

    assert not Product.objects.exists() and not Slot.objects.exists()
    assert not get_user_model().objects.filter(email="admin@example.com").exists()


@pytest.mark.parametrize("flags", [{"DEMO": True, "DEBUG": False}, {"DEMO": False, "DEBUG": True}])
def test_seed_demo_runs_with_either_demo_or_debug(flags):
    with override_settings(**flags):
        call_command("seed_demo", stdout=StringIO())
    assert Plan.objects.count() == 3
