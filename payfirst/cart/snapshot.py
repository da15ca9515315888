"""The cart's hand-written read: everything `GET /api/cart/` needs in one statement.

The user's row (authentication's check that they exist and are active), their ACTIVE cart, its promo code and the
user's captured uses of it, every line with the catalog rows that price and describe it, and what the cart's own
pending payment holds of each line's variant and slot. The ORM needs five round trips and builds five queries for
the same; this is one, built once per database. What it reads is priced by `pricing.price_lines`, as the ORM's
reads are by `pricing.price_cart`, so both give the same cart. Table names and columns come from the models and
`payfirst.core.sql`; the holds are read through the cart's reverse relation to its payments, not an import.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Model

from payfirst.cart.models import Cart, CartItem, CartStatus, PromoCode, PromoRedemption, RedemptionState
from payfirst.cart.selectors import OwnHolds
from payfirst.catalog.models import Plan, Product, Service, ServicePackage, Slot, Variant
from payfirst.core.sql import Columns, attach, fetch_prepared, instances, table


@dataclass(frozen=True)
class CartSnapshot:
    user: Any | None  # None: there is no user with that id
    cart: Cart | None  # None: the user has no ACTIVE cart yet
    items: list[CartItem]  # in id order, each with variant.product, package.service, slot and plan read
    holds: OwnHolds
    promo: PromoCode | None
    promo_uses: int  # the user's captured uses of the promo code (0 when the code has no per-user limit)


@dataclass(frozen=True)
class _Statement:
    sql: str
    user: Columns[Any]
    cart: Columns[Cart]
    promo: Columns[PromoCode]
    item: Columns[CartItem]
    variant: Columns[Variant]
    product: Columns[Product]
    package: Columns[ServicePackage]
    service: Columns[Service]
    slot: Columns[Slot]
    plan: Columns[Plan]


@cache
def _statement(vendor: str) -> _Statement:
    """The statement and the column groups it selects, in order, for the connected database (`vendor` keys it)."""
    payment = cast("type[Model]", Cart._meta.get_field("payments").related_model)
    payment_line = cast("type[Model]", payment._meta.get_field("lines").related_model)
    # The user (it becomes request.user) and the promo code come whole; the cart, its lines and their catalog rows
    # only with what pricing and the cart's body read (no timestamps, descriptions or tax fields): they repeat on
    # every row, and each timestamp is parsed in Python.
    groups: dict[str, Columns[Any]] = {
        "user": Columns(get_user_model(), "u"),
        "cart": Columns(Cart, "c", only=("id", "user_id", "cart_id", "status", "promo_id", "promo_notice", "notices")),
        "promo": Columns(PromoCode, "pc"),
        "item": Columns(
            CartItem,
            "i",
            only=(
                "id",
                "cart_id",
                "kind",
                "variant_id",
                "package_id",
                "slot_id",
                "plan_id",
                "quantity",
                "devotee_name",
                "note",
            ),
        ),
        "variant": Columns(
            Variant, "v", only=("id", "product_id", "sku", "name", "price", "stock_on_hand", "reserved", "is_active")
        ),
        "product": Columns(Product, "p", only=("id", "name", "is_active")),
        "package": Columns(ServicePackage, "k", only=("id", "service_id", "name", "price", "is_active")),
        "service": Columns(Service, "s", only=("id", "name", "is_active")),
        "slot": Columns(Slot, "sl", only=("id", "service_id", "date", "time", "capacity", "taken", "is_active")),
        "plan": Columns(Plan, "pl", only=("id", "code", "name", "price", "duration_days", "is_active")),
    }

    def held(column: str) -> str:
        return (
            f"(SELECT COALESCE(SUM(hl.quantity), 0) FROM {table(payment_line)} hl "
            f"JOIN {table(payment)} hp ON hp.id = hl.payment_id "
            f"WHERE hp.cart_id = c.id AND hp.status = 'PENDING' AND hp.reservation = 'HELD' "
            f"AND hl.{column} = i.{column})"
        )

    g = groups
    sql = (
        f"SELECT {g['user'].sql()}, {g['cart'].sql()}, {g['promo'].sql()}, "
        f"CASE WHEN pc.max_uses_per_user IS NULL THEN 0 ELSE (SELECT COUNT(*) FROM {table(PromoRedemption)} r "
        f"WHERE r.promo_id = pc.id AND r.user_id = u.id AND r.state = %s) END, "
        f"{g['item'].sql()}, {g['variant'].sql()}, {g['product'].sql()}, {g['package'].sql()}, "
        f"{g['service'].sql()}, {g['slot'].sql()}, {g['plan'].sql()}, {held('variant_id')}, {held('slot_id')} "
        f"FROM {table(get_user_model())} u "
        f"LEFT JOIN {table(Cart)} c ON c.user_id = u.id AND c.status = %s "
        f"LEFT JOIN {table(PromoCode)} pc ON pc.id = c.promo_id "
        f"LEFT JOIN {table(CartItem)} i ON i.cart_id = c.id "
        f"LEFT JOIN {table(Variant)} v ON v.id = i.variant_id "
        f"LEFT JOIN {table(Product)} p ON p.id = v.product_id "
        f"LEFT JOIN {table(ServicePackage)} k ON k.id = i.package_id "
        f"LEFT JOIN {table(Service)} s ON s.id = k.service_id "
        f"LEFT JOIN {table(Slot)} sl ON sl.id = i.slot_id "
        f"LEFT JOIN {table(Plan)} pl ON pl.id = i.plan_id "
        f"WHERE u.id = %s ORDER BY i.id"
    )
    return _Statement(sql=sql, **groups)


def _item(statement: _Statement, row: tuple[Any, ...], start: int, db: Any) -> tuple[CartItem | None, int]:
    """The line that starts at `row[start]` with its catalog rows attached, and where the next column starts."""
    names = ("item", "variant", "product", "package", "service", "slot", "plan")
    made, start = instances(row, [getattr(statement, name) for name in names], db, start)
    item, related = made[0], dict(zip(names, made, strict=True))
    if item is not None:
        if related["variant"] is not None:
            attach(related["variant"], "product", related["product"])
            attach(item, "variant", related["variant"])
        if related["package"] is not None:
            attach(related["package"], "service", related["service"])
            attach(item, "package", related["package"])
        if related["slot"] is not None:
            attach(item, "slot", related["slot"])
        if related["plan"] is not None:
            attach(item, "plan", related["plan"])
    return item, start


def cart_snapshot(*, user_id: int) -> CartSnapshot:
    """What GET /api/cart/ needs for the user `user_id`, in one statement (see the module's docstring)."""
    statement = _statement(connection.vendor)
    rows, db = fetch_prepared(statement.sql, [RedemptionState.FINAL, CartStatus.ACTIVE, user_id])
    if not rows:
        return CartSnapshot(user=None, cart=None, items=[], holds=OwnHolds(), promo=None, promo_uses=0)
    first = rows[0]
    (user, cart, promo), start = instances(first, [statement.user, statement.cart, statement.promo], db)
    promo_uses = int(first[start])
    start += 1
    items: list[CartItem] = []
    units: Counter[int] = Counter()
    places: Counter[int] = Counter()
    for row in rows:
        item, end = _item(statement, row, start, db)
        if item is None:
            continue
        attach(item, "cart", cart)
        items.append(item)
        if item.variant_id is not None:
            units[item.variant_id] = int(row[end])
        if item.slot_id is not None:
            places[item.slot_id] = int(row[end + 1])
    if cart is not None and promo is not None:
        attach(cart, "promo", promo)
    return CartSnapshot(
        user=user,
        cart=cart,
        items=items,
        holds=OwnHolds(units=units, places=places),
        promo=promo,
        promo_uses=promo_uses,
    )
