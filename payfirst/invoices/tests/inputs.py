"""Tax classes with their rates, and the capture inputs (lines, buyer) the invoices services take, for the invoices
tests (no payments involved). Catalog rows come from payfirst.testing.factories."""

from __future__ import annotations

from datetime import date, datetime
from itertools import count

from payfirst.accounts.models import User
from payfirst.catalog.models import Plan, ServicePackage, TaxClass, TaxRate, Variant
from payfirst.invoices.numbering import INDIA
from payfirst.invoices.services import BuyerInput, InvoiceLineInput

_ids = count(1)
RATE_CHANGE = date(2025, 9, 22)
SELLER_STATE = "Karnataka"  # the demo seller's (settings' default)
B2B_GSTIN_KA = "29AAPFU0939F1ZR"  # a Karnataka GSTIN with a valid check character
B2B_GSTIN_MH = "27AAPFU0939F1ZV"  # the GSTN's own published example, Maharashtra


def at(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    """A time in India."""
    return datetime(year, month, day, hour, minute, tzinfo=INDIA)


def tax_class(code: str, *periods: tuple[date, int, bool]) -> TaxClass:
    made = TaxClass.objects.create(code=f"{code}-{next(_ids)}", name=code)
    for effective_from, rate, exempt in periods:
        TaxRate.objects.create(tax_class=made, effective_from=effective_from, rate=rate, exempt=exempt)
    return made


def brassware() -> TaxClass:
    return tax_class("brass", (date(2017, 7, 1), 1200, False), (RATE_CHANGE, 500, False))


def standard() -> TaxClass:
    return tax_class("standard", (date(2017, 7, 1), 1800, False))


def ceremony() -> TaxClass:
    return tax_class("ceremony", (date(2017, 7, 1), 0, True))


def goods_line(item: Variant, quantity: int = 1, discount: int = 0) -> InvoiceLineInput:
    return InvoiceLineInput(
        source_id=next(_ids),
        description=str(item),
        quantity=quantity,
        amount=item.price * quantity,
        discount=discount,
        variant_id=item.pk,
    )


def service_line(item: ServicePackage, discount: int = 0) -> InvoiceLineInput:
    return InvoiceLineInput(
        source_id=next(_ids),
        description=str(item),
        quantity=1,
        amount=item.price,
        discount=discount,
        package_id=item.pk,
    )


def plan_line(item: Plan, discount: int = 0) -> InvoiceLineInput:
    return InvoiceLineInput(
        source_id=next(_ids), description=str(item), quantity=1, amount=item.price, discount=discount, plan_id=item.pk
    )


def address(state: str, gstin: str = "") -> dict[str, str]:
    return {
        "full_name": "Meera Iyer",
        "address_line_1": "12 MG Road",
        "address_line_2": "",
        "city": "Somewhere",
        "state": state,
        "postal_code": "560001",
        "country": "India",
        "gstin": gstin,
    }


def buyer(user: User, *, state: str = SELLER_STATE, gstin: str = "", billing_state: str | None = None) -> BuyerInput:
    shipping = address(state, gstin)
    billing = address(billing_state, gstin) if billing_state else shipping
    return BuyerInput(
        user_id=user.pk, name=user.full_name, email=user.email, billing_address=billing, shipping_address=shipping
    )
