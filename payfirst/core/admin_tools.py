"""Admin building blocks: amounts shown in rupees, and pages that are only for reading.

`RupeesAdmin` (a mixin for ModelAdmin and inlines): list `paise_fields`, and wherever one of them is shown read-only
(list columns, read-only fields, inline rows) it is shown as rupees with Indian grouping, ₹1,23,456.00, from the
integer paise (no float on the way). An editable paise field stays a paise input, its label saying so.

`ReadOnlyAdmin`: no add, change or delete, so Django shows the page for reading, with no Save buttons.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest

from payfirst.core.money import rupees

if TYPE_CHECKING:  # the stubs' alias for what get_fieldsets returns; it does not exist at run time
    from django.contrib.admin.options import _FieldsetSpec

SUFFIX = "_rupees"


def rupees_display(field: str, description: str | None = None) -> Callable[[Any, Any], str]:
    """An admin display method showing integer-paise `field` in rupees ("—" when empty)."""

    @admin.display(description=description or field.replace("_", " "), ordering=field)
    def show(self: Any, obj: Any) -> str:
        value = getattr(obj, field, None)
        return "—" if value is None else rupees(value)

    show.__name__ = f"{field}{SUFFIX}"
    return show


class RupeesAdmin:
    paise_fields: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in cls.paise_fields:
            if not hasattr(cls, f"{name}{SUFFIX}"):
                setattr(cls, f"{name}{SUFFIX}", rupees_display(name))

    def _shown(self, names: Sequence[Any], readonly: set[str] | None) -> list[Any]:
        swapped = []
        for name in names:
            if isinstance(name, str) and name in self.paise_fields and (readonly is None or name in readonly):
                name = f"{name}{SUFFIX}"
            if name not in swapped:
                swapped.append(name)
        return swapped

    def _original_readonly(self, request: HttpRequest, obj: Any) -> set[str]:
        return {name for name in super().get_readonly_fields(request, obj) if isinstance(name, str)}  # type: ignore[misc]

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        return self._shown(super().get_list_display(request), None)  # type: ignore[misc]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        readonly = list(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        # The paise field stays read-only (so no form field is made for it); its rupees twin is what is shown.
        return readonly + [f"{name}{SUFFIX}" for name in self.paise_fields if name in readonly]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> _FieldsetSpec:
        readonly = self._original_readonly(request, obj)
        fieldsets: _FieldsetSpec = super().get_fieldsets(request, obj)  # type: ignore[misc]
        return [
            (title, {**options, "fields": self._shown(options["fields"], readonly)}) for title, options in fieldsets
        ]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
