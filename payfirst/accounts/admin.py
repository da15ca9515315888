"""Django admin for users (email is the username) and their addresses."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models.functions import Lower
from django.http import HttpRequest

from payfirst.accounts.models import ADDRESS_FIELDS, Address, User, UserManager
from payfirst.accounts.services import save_address


class _EmailFormMixin(forms.ModelForm):
    """Store the email lower-case and refuse one that differs from another account's only in letter case.

    The unique index on lower(email) still decides a race; this gives the form a readable error first.
    """

    def clean_email(self) -> str:
        email = UserManager.normalize_email(self.cleaned_data.get("email"))
        taken = User.objects.alias(email_ci=Lower("email")).filter(email_ci=email)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("An account with this email already exists.", code="unique")
        return email


class UserCreationForm(_EmailFormMixin, AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name", "phone")
        field_classes: dict[str, Any] = {}


class UserEditForm(_EmailFormMixin, UserChangeForm):
    class Meta:
        model = User
        fields = (
            "email",
            "password",
            "full_name",
            "phone",
            "is_active",
            "is_staff",
            "is_superuser",
            "groups",
            "user_permissions",
        )
        field_classes: dict[str, Any] = {}


class AddressInline(admin.TabularInline):
    """The user's addresses, shown read-only: edit them on the address page, which keeps the one-default rule."""

    model = Address
    fields = ("full_name", "address_line_1", "city", "postal_code", "is_default")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("full_name", "phone")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "full_name", "phone", "usable_password", "password1", "password2"),
            },
        ),
    )
    list_display = ("email", "full_name", "phone", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
    search_fields = ("email", "full_name", "phone")
    ordering = ("email",)
    readonly_fields = ("last_login", "date_joined")
    inlines = [AddressInline]

    def get_inlines(self, request: HttpRequest, obj: User | None) -> list[type[InlineModelAdmin[Any, Any]]]:
        return [AddressInline] if obj is not None else []  # a user being added has no addresses yet


class AddressAdminForm(forms.ModelForm):
    class Meta:
        model = Address
        fields = ("user", *ADDRESS_FIELDS)

    def _get_validation_exclusions(self) -> set[str]:
        # Not checked here against the one-default index: saving through save_address clears the user's other
        # default first, so ticking "is default" on a second address is a change of default, not an error.
        # cast: django-stubs leave out ModelForm._get_validation_exclusions, which Django defines (returning a set).
        return {*cast(Any, super())._get_validation_exclusions(), "is_default"}


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    form = AddressAdminForm
    list_display = ("full_name", "user", "city", "state", "postal_code", "is_default", "updated_at")
    list_filter = ("is_default", "state")
    search_fields = ("user__email", "full_name", "phone", "city", "postal_code")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
    ordering = ("user", "-is_default", "id")

    def save_model(self, request: HttpRequest, obj: Address, form: forms.ModelForm, change: bool) -> None:
        # Through the service, so ticking "is default" clears the user's other default instead of failing the index.
        save_address(address=obj)
