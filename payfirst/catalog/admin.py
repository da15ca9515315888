"""Django admin for merchants: products with their variants, services with their packages, slots and plans.

`Variant.reserved` and `Slot.taken` are moved only by payments (inventory.py) and are shown read-only. Stock is
changed by an amount ("add stock"), applied to the row as it is at that moment, so a sale made while the page was
open is never written over; capacity is set under a row lock, never below what is taken.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils import timezone

from payfirst.catalog.models import Plan, Product, Service, ServicePackage, Slot, TaxClass, TaxRate, Variant
from payfirst.catalog.services import change_stock, set_slot_capacity
from payfirst.core.money import rupees

STOCK_CHANGE_LIMIT = 1_000_000
VARIANT_FORM_FIELDS = ["sku", "name", "price", "hsn_sac", "tax_class", "is_active"]
SLOT_FORM_FIELDS = ["service", "date", "time", "capacity", "is_active"]


def _rupees(paise: int | None) -> str:
    return "—" if paise is None else rupees(paise)


class VariantInlineForm(forms.ModelForm):
    stock_change = forms.IntegerField(
        required=False,
        initial=0,
        min_value=-STOCK_CHANGE_LIMIT,
        max_value=STOCK_CHANGE_LIMIT,
        label="Add stock",
        help_text="units received; negative to write off",
    )

    class Meta:
        model = Variant
        fields = VARIANT_FORM_FIELDS


class VariantInlineFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        changes: list[tuple[int, int, forms.Form]] = []
        for form in self.forms:
            if form.errors or not hasattr(form, "cleaned_data"):
                continue
            delta = form.cleaned_data.get("stock_change") or 0
            if form.instance.pk is None:
                if delta < 0:
                    form.add_error(
                        "stock_change", "A new variant starts with no stock; add units with a positive number."
                    )
            elif delta:
                changes.append((form.instance.pk, delta, form))
        if not changes:
            return
        # Lock in primary-key order, as every writer does. The admin view runs in one transaction, so the lock
        # holds until save_formset has applied the change: what is checked here is what gets written.
        locked = Variant.objects.select_for_update().filter(pk__in=[pk for pk, _, _ in changes]).order_by("pk")
        rows = {variant.pk: variant for variant in locked}
        for pk, delta, form in changes:
            variant = rows.get(pk)
            if variant is None:
                form.add_error(None, "This variant no longer exists.")
            elif variant.available + delta < 0:
                form.add_error(
                    "stock_change",
                    f"Only {variant.available} unit(s) are not held by pending payments "
                    f"({variant.stock_on_hand} on hand, {variant.reserved} reserved).",
                )


class VariantInline(admin.TabularInline):
    model = Variant
    form = VariantInlineForm
    formset = VariantInlineFormSet
    fields = [
        "sku",
        "name",
        "price",
        "price_rupees",
        "hsn_sac",
        "tax_class",
        "stock_on_hand",
        "reserved",
        "available_now",
        "stock_change",
        "is_active",
    ]
    readonly_fields = ["price_rupees", "stock_on_hand", "reserved", "available_now"]
    extra = 1
    can_delete = False  # a variant that was ever sold is referenced by payments and orders: deactivate it instead

    @admin.display(description="price")
    def price_rupees(self, variant: Variant) -> str:
        return _rupees(variant.price)

    @admin.display(description="available now")
    def available_now(self, variant: Variant) -> int:
        return variant.available


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "variant_count", "is_active", "updated_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug", "description", "variants__sku", "variants__name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [VariantInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Product]:
        # distinct: a search on variant sku or name joins the variants again, which would multiply a plain count.
        return super().get_queryset(request).annotate(variant_count=Count("variants", distinct=True))

    @admin.display(description="variants", ordering="variant_count")
    def variant_count(self, product: Product) -> int:
        return product.variant_count  # type: ignore[attr-defined]

    def save_formset(self, request: HttpRequest, form: forms.ModelForm, formset: Any, change: bool) -> None:
        if formset.model is not Variant:
            super().save_formset(request, form, formset, change)
            return
        formset.save(commit=False)  # builds the instances and the change history; writing is done below
        for variant_form in formset.forms:
            if not variant_form.has_changed():
                continue
            variant: Variant = variant_form.instance
            delta = variant_form.cleaned_data.get("stock_change") or 0
            if variant.pk is None:
                variant.stock_on_hand, variant.reserved = delta, 0
                variant.save()
            else:
                # Never write stock_on_hand or reserved back from the copy loaded with the page.
                variant.save(update_fields=[*VARIANT_FORM_FIELDS, "updated_at"])
                change_stock(variant_id=variant.pk, delta=delta)


@admin.register(Variant)
class VariantAdmin(admin.ModelAdmin):
    """A read-only stock overview across products; variants are edited on their product's page."""

    list_display = ["sku", "product", "name", "price_rupees", "stock_on_hand", "reserved", "available_now", "is_active"]
    list_filter = ["is_active", "product"]
    search_fields = ["sku", "name", "product__name"]
    list_select_related = ["product"]
    ordering = ["product__name", "price", "id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Variant | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Variant | None = None) -> bool:
        return False

    @admin.display(description="price", ordering="price")
    def price_rupees(self, variant: Variant) -> str:
        return _rupees(variant.price)

    @admin.display(description="available now")
    def available_now(self, variant: Variant) -> int:
        return variant.available


class ServicePackageInline(admin.TabularInline):
    model = ServicePackage
    fields = ["name", "price", "price_rupees", "hsn_sac", "tax_class", "is_active"]
    readonly_fields = ["price_rupees"]
    extra = 1
    can_delete = False  # referenced by payments and bookings once sold: deactivate instead

    @admin.display(description="price")
    def price_rupees(self, package: ServicePackage) -> str:
        return _rupees(package.price)


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "service_type", "is_active", "updated_at"]
    list_filter = ["service_type", "is_active"]
    search_fields = ["name", "description"]
    inlines = [ServicePackageInline]


class SlotAdminForm(forms.ModelForm):
    class Meta:
        model = Slot
        fields = SLOT_FORM_FIELDS

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.instance.pk is None:
            return cleaned
        # Locked until the admin's transaction commits, so save_model writes what was checked here.
        current = Slot.objects.select_for_update().filter(pk=self.instance.pk).first()
        if current is None:
            raise forms.ValidationError("This slot no longer exists.")
        capacity = cleaned.get("capacity")
        if capacity is not None and capacity < current.taken:
            self.add_error("capacity", f"{current.taken} place(s) are already taken; capacity cannot be lower.")
        moved = (
            cleaned.get("service") not in (None, current.service)
            or cleaned.get("date") not in (None, current.date)
            or cleaned.get("time") not in (None, current.time)
        )
        if current.taken and moved:
            raise forms.ValidationError(
                f"{current.taken} place(s) are booked or reserved at this date and time, so the slot cannot move. "
                "Add a new slot instead (and deactivate this one if it should not take more)."
            )
        return cleaned


class SlotWhenFilter(admin.SimpleListFilter):
    title = "when"
    parameter_name = "when"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("upcoming", "Upcoming"), ("past", "Past")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Slot]) -> QuerySet[Slot]:
        now = timezone.localtime()
        upcoming = Q(date__gt=now.date()) | Q(date=now.date(), time__gt=now.time())
        if self.value() == "upcoming":
            return queryset.filter(upcoming)
        if self.value() == "past":
            return queryset.exclude(upcoming)
        return queryset


@admin.register(Slot)
class SlotAdmin(admin.ModelAdmin):
    form = SlotAdminForm
    list_display = ["service", "date", "time", "capacity", "taken", "remaining_places", "is_active"]
    list_filter = ["service", SlotWhenFilter, "date", "is_active"]
    list_select_related = ["service"]
    date_hierarchy = "date"
    ordering = ["date", "time", "service__name"]
    fields = [*SLOT_FORM_FIELDS, "taken", "remaining_places"]
    readonly_fields = ["taken", "remaining_places"]
    actions = ["copy_to_next_week"]

    @admin.display(description="remaining")
    def remaining_places(self, slot: Slot) -> int:
        return slot.remaining

    def save_model(self, request: HttpRequest, obj: Slot, form: forms.ModelForm, change: bool) -> None:
        if not change:
            obj.taken = 0
            obj.save()
            return
        # Never write `taken` back from the copy loaded with the page; capacity goes through its own guard.
        obj.save(update_fields=[name for name in SLOT_FORM_FIELDS if name != "capacity"] + ["updated_at"])
        set_slot_capacity(slot_id=obj.pk, capacity=form.cleaned_data["capacity"])

    @admin.action(description="Copy the selected slots to the same weekday next week")
    def copy_to_next_week(self, request: HttpRequest, queryset: QuerySet[Slot]) -> None:
        copies = [
            Slot(service_id=slot.service_id, date=slot.date + timedelta(days=7), time=slot.time, capacity=slot.capacity)
            for slot in queryset
        ]
        before = Slot.objects.count()
        # A slot that already exists at that service, date and time is left as it is.
        Slot.objects.bulk_create(copies, ignore_conflicts=True)
        created = Slot.objects.count() - before
        self.message_user(
            request, f"{created} slot(s) created, {len(copies) - created} already existed.", messages.SUCCESS
        )


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "price_rupees", "duration_days", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name"]

    def get_readonly_fields(self, request: HttpRequest, obj: Plan | None = None) -> list[str]:
        # Carts, payments and subscriptions refer to a plan by its code: once made, it stays.
        return ["code"] if obj is not None else []

    @admin.display(description="price (₹)", ordering="price")
    def price_rupees(self, plan: Plan) -> str:
        return _rupees(plan.price)


class TaxRateInline(admin.TabularInline):
    model = TaxRate
    fields = ["effective_from", "rate", "exempt"]
    extra = 1


@admin.register(TaxClass)
class TaxClassAdmin(admin.ModelAdmin):
    """GST treatments with their rates over time: a sale takes the rate in force on its day. A rate change is a new
    row dated from the day it applies (documents already issued keep the rate they were issued with)."""

    list_display = ["code", "name", "note"]
    search_fields = ["code", "name"]
    inlines = [TaxRateInline]
