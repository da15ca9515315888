"""Payments' hand-written hot-path SQL, in one place: the cart + payment row lock every capture takes, the one read
of a payment's lines that capture needs (for the stock they sell and the fulfilments they become), and the
first-writer-wins INSERTs of an attempt's row and of an idempotency key's record.

Plain parameterised SQL because these run on every checkout or capture and the ORM needs more round trips (a
savepoint around an INSERT that may collide, a read before it) or more construction than the statements cost.
Table names and lock clauses come from `payfirst.core.sql`. `INSERT ... ON CONFLICT ... DO NOTHING RETURNING` reads
the same on PostgreSQL and SQLite (>= 3.35).
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from payfirst.cart.models import Cart
from payfirst.catalog.models import Plan, ServicePackage
from payfirst.core.sql import for_update, table
from payfirst.fulfilment.services import FulfilmentLine
from payfirst.payments.models import IdempotencyRecord, Payment, PaymentAttempt, PaymentLine


def lock_cart_then_payment(*, payment_id: int) -> Payment:
    """Lock the payment's cart row, then the payment row, in one statement, and return the payment as it is now.

    PostgreSQL locks the rows of `FOR UPDATE OF c, p` in the order the OF list names them, so this keeps the order
    checkout takes them in (a payment's cart never changes); test_capture_locks_the_cart_row_before_the_payment_row
    holds it to that. SQLite has no row locks (it serialises writers): there it is a plain read.
    """
    found = list(
        Payment.objects.raw(
            f"SELECT p.* FROM {table(Payment)} p JOIN {table(Cart)} c ON c.id = p.cart_id "
            f"WHERE p.id = %s{for_update(of=('c', 'p'))}",
            [payment_id],
        )
    )
    if not found:
        raise Payment.DoesNotExist(f"Payment {payment_id} does not exist.")
    return found[0]


def payment_lines_for_fulfilment(*, payment_id: int) -> list[FulfilmentLine]:
    """A payment's lines as fulfilment needs them, in pk order, in one query: each also carries its package's
    service and its plan's code and duration (None where it has none), through two LEFT JOINs."""
    rows = PaymentLine.objects.raw(
        f"SELECT l.*, k.service_id AS joined_service_id, pl.code AS joined_plan_code, "
        f"pl.duration_days AS joined_plan_days FROM {table(PaymentLine)} l "
        f"LEFT JOIN {table(ServicePackage)} k ON k.id = l.package_id "
        f"LEFT JOIN {table(Plan)} pl ON pl.id = l.plan_id WHERE l.payment_id = %s ORDER BY l.id",
        [payment_id],
    )
    return [
        FulfilmentLine(
            id=row.pk,
            payment_id=row.payment_id,
            kind=row.kind,
            variant_id=row.variant_id,
            package_id=row.package_id,
            service_id=getattr(row, "joined_service_id"),  # noqa: B009 - a column of the raw query, not a field
            slot_id=row.slot_id,
            plan_id=row.plan_id,
            plan_code=getattr(row, "joined_plan_code"),  # noqa: B009
            plan_days=getattr(row, "joined_plan_days"),  # noqa: B009
            name=row.name,
            sku=row.sku,
            selected_date=row.selected_date,
            selected_time=row.selected_time,
            quantity=row.quantity,
            unit_price=row.unit_price,
            line_total=row.line_total,
            discount=row.discount,
            total=row.total,
            devotee_name=row.devotee_name,
            note=row.note,
        )
        for row in rows
    ]


def insert_attempt_once(
    *,
    payment_id: int,
    gateway_payment_id: str,
    gateway_status: str,
    amount: int,
    currency: str,
    decision: str,
    now: datetime,
) -> int | None:
    """Insert the attempt's row and return its id, or None when the payment already has a row for that attempt (the
    unique constraint payment_attempt_once decides, in the same statement: no read first, no savepoint around it; on
    PostgreSQL a concurrent insert of the same attempt is waited for, then this one does nothing)."""
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table(PaymentAttempt)} "
            "(created_at, updated_at, payment_id, gateway_payment_id, gateway_status, amount, currency, decision, "
            "error) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, '') "
            "ON CONFLICT (payment_id, gateway_payment_id) DO NOTHING RETURNING id",
            [at, at, payment_id, gateway_payment_id, gateway_status, amount, currency, decision],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def insert_idempotency_record_once(
    *, user_id: int, key: str, fingerprint: str, state: str, now: datetime
) -> int | None:
    """Claim `key` for the user: insert its in-progress record and return its id, or None when the user already has a
    record for that key (the unique constraint idempotency_key_once_per_user decides, in one statement)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table(IdempotencyRecord)} (user_id, key, fingerprint, state, created_at) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (user_id, key) DO NOTHING RETURNING id",
            [user_id, key, fingerprint, state, connection.ops.adapt_datetimefield_value(now)],
        )
        row = cursor.fetchone()
    return row[0] if row else None
