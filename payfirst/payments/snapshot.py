"""A payment's hand-written read: everything `GET /api/payments/{id}/` needs in one statement.

The signed-in user's row (authentication's check that they exist and are active, and whether they are staff), the
payment if they may see it (their own; staff: any) with its cart, and what it was turned into (its order, bookings
and subscriptions, in that order, each oldest first). The ORM needs five round trips for the same; this is one,
built once per database. Table names and columns come from the models and `payfirst.core.sql`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection

from payfirst.cart.models import Cart
from payfirst.core.sql import Columns, attach, fetch_prepared, instances, table
from payfirst.fulfilment.models import Booking, Order, Subscription
from payfirst.fulfilment.selectors import FulfilmentRef
from payfirst.payments.models import Payment


@dataclass(frozen=True)
class PaymentSnapshot:
    user: Any | None  # None: there is no user with that id
    payment: Payment | None  # None: no such payment, or not one this user may see
    fulfilments: list[FulfilmentRef]


@dataclass(frozen=True)
class _Statement:
    sql: str
    user: Columns[Any]
    payment: Columns[Payment]
    cart: Columns[Cart]


@cache
def _statement(vendor: str) -> _Statement:
    """The statement for the connected database (`vendor` keys it)."""
    user, payment, cart = Columns(get_user_model(), "u"), Columns(Payment, "p"), Columns(Cart, "c")
    made = " UNION ALL ".join(
        f"SELECT {rank} AS kind_rank, payment_id, id, {column} AS reference FROM {table(model)}"
        for rank, (model, column) in enumerate(
            ((Order, "order_number"), (Booking, "book_id"), (Subscription, "plan_code"))
        )
    )
    sql = (
        f"SELECT {user.sql()}, {payment.sql()}, {cart.sql()}, f.kind_rank, f.id, f.reference "
        f"FROM {table(get_user_model())} u "
        f"LEFT JOIN {table(Payment)} p ON p.id = %s AND (p.user_id = u.id OR u.is_staff) "
        f"LEFT JOIN {table(Cart)} c ON c.id = p.cart_id "
        f"LEFT JOIN ({made}) f ON f.payment_id = p.id "
        f"WHERE u.id = %s ORDER BY f.kind_rank, f.id"
    )
    return _Statement(sql=sql, user=user, payment=payment, cart=cart)


_KINDS = ("order", "booking", "subscription")


def payment_snapshot(*, user_id: int, payment_id: int) -> PaymentSnapshot:
    """What GET /api/payments/{id}/ needs (see the module's docstring), in one statement."""
    statement = _statement(connection.vendor)
    rows, db = fetch_prepared(statement.sql, [payment_id, user_id])
    if not rows:
        return PaymentSnapshot(user=None, payment=None, fulfilments=[])
    (user, payment, cart), start = instances(rows[0], [statement.user, statement.payment, statement.cart], db)
    if payment is None:
        return PaymentSnapshot(user=user, payment=None, fulfilments=[])
    if cart is not None:  # always: a payment's cart is NOT NULL
        attach(payment, "cart", cart)
    refs = [
        FulfilmentRef(type=_KINDS[int(row[start])], id=int(row[start + 1]), reference=row[start + 2])
        for row in rows
        if row[start] is not None
    ]
    return PaymentSnapshot(user=user, payment=payment, fulfilments=refs)
