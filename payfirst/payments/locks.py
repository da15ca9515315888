"""Payments' hand-written hot-path SQL, in one place: the read of a payment by its gateway order that every webhook
starts with, the cart + payment row lock every capture takes, the one read
of a payment's lines that capture needs (for the stock they sell and the fulfilments they become), the
first-writer-wins INSERTs of an attempt's row and of an idempotency key's record, and the one write that stores,
deduplicates and queues a verified webhook delivery.

Plain parameterised SQL because these run on every checkout, capture or delivery and the ORM needs more round trips
(a savepoint around an INSERT that may collide, a read before it; for intake BEGIN, two INSERTs, COMMIT) or more
construction than the statements cost. Table names, lock clauses and what the database can do in one statement come
from `payfirst.core.sql`. `INSERT ... ON CONFLICT ... DO NOTHING RETURNING` reads the same on PostgreSQL and SQLite
(>= 3.35).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from django.db import connection, transaction
from django_tasks.base import Task
from django_tasks_db.models import DBTaskResult

from payfirst.cart.models import Cart
from payfirst.catalog.models import Plan, ServicePackage
from payfirst.core.sql import (
    Columns,
    all_columns,
    attach,
    can_write_in_with,
    fetch_prepared,
    for_update,
    instances,
    table,
)
from payfirst.fulfilment.services import FulfilmentLine
from payfirst.ops.locks import TASK_COLUMNS, TASK_VALUES, insert_task_row, task_params
from payfirst.payments.models import (
    IdempotencyRecord,
    Payment,
    PaymentAttempt,
    PaymentLine,
    WebhookEvent,
    WebhookOutcome,
)


@dataclass(frozen=True)
class _ByGatewayOrder:
    sql: str
    payment: Columns[Payment]
    cart: Columns[Cart]


@cache
def _by_gateway_order(vendor: str) -> _ByGatewayOrder:
    """The statement for the connected database (`vendor` keys it)."""
    payment, cart = Columns(Payment, "p"), Columns(Cart, "c")
    sql = (
        f"SELECT {payment.sql()}, {cart.sql()} FROM {table(Payment)} p JOIN {table(Cart)} c ON c.id = p.cart_id "
        f"WHERE p.gateway = %s AND p.gateway_order_id = %s ORDER BY p.id LIMIT 1"
    )
    return _ByGatewayOrder(sql=sql, payment=payment, cart=cart)


def payment_by_gateway_order(*, gateway: str, gateway_order_id: str) -> Payment | None:
    """The payment a gateway order belongs to, with its cart, or None: what every webhook and every customer's return
    from the gateway reads first, in one statement prepared once per connection."""
    statement = _by_gateway_order(connection.vendor)
    rows, db = fetch_prepared(statement.sql, [gateway, gateway_order_id])
    if not rows:
        return None
    (payment, cart), _ = instances(rows[0], [statement.payment, statement.cart], db)
    attach(payment, "cart", cart)
    return cast(Payment, payment)


def lock_cart_then_payment(*, payment_id: int) -> Payment:
    """Lock the payment's cart row, then the payment row, in one statement, and return the payment as it is now.

    PostgreSQL locks the rows of `FOR UPDATE OF c, p` in the order the OF list names them, so this keeps the order
    checkout takes them in (a payment's cart never changes); test_capture_locks_the_cart_row_before_the_payment_row
    holds it to that. SQLite has no row locks (it serialises writers): there it is a plain read.
    """
    found = list(
        Payment.objects.raw(
            f"SELECT {all_columns(Payment, 'p')} FROM {table(Payment)} p JOIN {table(Cart)} c ON c.id = p.cart_id "
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
        f"SELECT {all_columns(PaymentLine, 'l')}, k.service_id AS joined_service_id, pl.code AS joined_plan_code, "
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


# The columns a verified delivery fills from what it says (the rest are the outcome and the bookkeeping below).
_DELIVERY_COLUMNS = (
    "gateway",
    "headers",
    "body",
    "body_size",
    "event_id",
    "event_name",
    "gateway_order_id",
    "kind",
    "gateway_refund_id",
    "refund_reference",
    "gateway_payment_id",
)
# PostgreSQL types for the delivery's values in the WITH clause (the parameters arrive as untyped literals).
_DELIVERY_TYPES = {"headers": "jsonb", "body_size": "integer"}


@dataclass(frozen=True)
class StoredWebhook:
    id: int
    outcome: str  # queued | ignored | duplicate


def store_verified_webhook(
    *,
    delivery: Mapping[str, Any],
    is_actionable: bool,
    task: Task[..., Any],
    now: datetime,
    refused: tuple[str, dict[str, Any]] | None = None,
) -> StoredWebhook | None:
    """Store one verified delivery, claim its event and queue its processing task: one statement on PostgreSQL.

    `delivery` holds the values of `_DELIVERY_COLUMNS` (headers as a dict). The first delivery of an event (gateway,
    event_id) claims it — `webhook_event_once_per_gateway`, the partial unique index on claimed rows, decides, so two
    copies arriving at once cannot both claim — and is stored `queued` with a READY task for `task(webhook_event_id=
    its id)` (`ignored`, no task, when not `is_actionable`). A later copy is stored unclaimed as `duplicate`; if the
    claimed one is waiting for a retry (`error`), that retry is made due now and queued. The task row is the one
    `task.enqueue(webhook_event_id=...)` writes (test_locks compares them), so the worker claims it as any other.

    `refused` is an SQL condition and its parameters (a throttle's `Quota.refused_sql`): while it holds nothing is
    written and None is returned, so the check costs no statement of its own.

    PostgreSQL: one `WITH … INSERT … ON CONFLICT DO NOTHING RETURNING` whose other parts insert the task, the
    duplicate row and the hurried retry's task — atomic on its own, so no BEGIN/COMMIT round trips. SQLite (no
    writes in WITH): the same writes as separate statements in one transaction.
    """
    values = {name: delivery[name] for name in _DELIVERY_COLUMNS}
    values["headers"] = json.dumps(values["headers"])
    queued_task = task_params(task, now=now)  # its "now" is the delivery's stamp too
    params = {
        **values,
        **queued_task,
        "claimed_outcome": WebhookOutcome.QUEUED if is_actionable else WebhookOutcome.IGNORED,
        "claimed_processed_at": None if is_actionable else queued_task["now"],
        "queued": WebhookOutcome.QUEUED,
        "duplicate": WebhookOutcome.DUPLICATE,
        "error": WebhookOutcome.ERROR,
    }
    condition, condition_params = refused or ("FALSE", {})
    params.update(condition_params)
    if can_write_in_with():
        return _store_in_one_statement(params, refused=condition)
    return _store_in_one_transaction(params, refused=condition)


def _insert_event_sql(*, source: str, claimed: bool) -> str:
    """INSERT of a verified delivery's row from `source` (a FROM clause naming the delivery's columns)."""
    columns = ", ".join(_DELIVERY_COLUMNS)
    outcome, processed_at = (
        ("%(claimed_outcome)s", "%(claimed_processed_at)s") if claimed else ("%(duplicate)s", "%(now)s")
    )
    return (
        f"INSERT INTO {table(WebhookEvent)} ({columns}, received_at, is_verified, is_claimed, outcome, error, "
        f"attempts, processed_at) SELECT {columns}, %(now)s, TRUE, {'TRUE' if claimed else 'FALSE'}, {outcome}, '', 0, "
        f"{processed_at} FROM {source}"
    )


_CLAIM_TARGET = "ON CONFLICT (gateway, event_id) WHERE is_claimed DO NOTHING"


def _store_in_one_statement(params: dict[str, Any], *, refused: str) -> StoredWebhook | None:
    delivery = ", ".join(f"%({name})s::{_DELIVERY_TYPES.get(name, 'text')} AS {name}" for name in _DELIVERY_COLUMNS)
    events, tasks = table(WebhookEvent), table(DBTaskResult)
    args_kwargs = "jsonb_build_object('args', '[]'::jsonb, 'kwargs', jsonb_build_object('webhook_event_id', due.id))"
    sql = (
        f"WITH delivery AS (SELECT {delivery} WHERE NOT {refused}), "
        f"claimed AS ({_insert_event_sql(source='delivery', claimed=True)} {_CLAIM_TARGET} RETURNING id, outcome), "
        f"duplicate AS ({_insert_event_sql(source='delivery', claimed=False)} "
        f"WHERE NOT EXISTS (SELECT 1 FROM claimed) RETURNING id, outcome), "
        f"hurried AS (UPDATE {events} SET next_attempt_at = %(now)s WHERE gateway = %(gateway)s "
        f"AND event_id = %(event_id)s AND is_claimed AND outcome = %(error)s "
        f"AND EXISTS (SELECT 1 FROM delivery) AND NOT EXISTS (SELECT 1 FROM claimed) RETURNING id), "
        f"queued AS (INSERT INTO {tasks} ({TASK_COLUMNS}) SELECT gen_random_uuid(), "
        f"{TASK_VALUES.format(args_kwargs=args_kwargs)} FROM (SELECT id FROM claimed WHERE outcome = %(queued)s "
        f"UNION ALL SELECT id FROM hurried) AS due) "
        f"SELECT id, outcome FROM claimed UNION ALL SELECT id, outcome FROM duplicate"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else StoredWebhook(id=row[0], outcome=row[1])


def _store_in_one_transaction(params: dict[str, Any], *, refused: str) -> StoredWebhook | None:
    delivery = ", ".join(f"%({name})s AS {name}" for name in _DELIVERY_COLUMNS)
    events = table(WebhookEvent)
    # SQLite needs `WHERE true` after INSERT … SELECT so that ON CONFLICT is not read as a join's ON.
    source = f"(SELECT {delivery}) WHERE true"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 WHERE {refused}", params)
        if cursor.fetchone() is not None:
            return None
        cursor.execute(
            f"{_insert_event_sql(source=source, claimed=True)} {_CLAIM_TARGET} RETURNING id, outcome", params
        )
        claimed = cursor.fetchone()
        if claimed is not None:
            if claimed[1] == WebhookOutcome.QUEUED:
                insert_task_row(cursor, params, webhook_event_id=claimed[0])
            return StoredWebhook(id=claimed[0], outcome=claimed[1])
        cursor.execute(f"{_insert_event_sql(source=source, claimed=False)} RETURNING id, outcome", params)
        duplicate = cursor.fetchone()
        cursor.execute(
            f"UPDATE {events} SET next_attempt_at = %(now)s WHERE gateway = %(gateway)s AND event_id = %(event_id)s "
            "AND is_claimed AND outcome = %(error)s RETURNING id",
            params,
        )
        for (hurried_id,) in cursor.fetchall():
            insert_task_row(cursor, params, webhook_event_id=hurried_id)
    return StoredWebhook(id=duplicate[0], outcome=duplicate[1])
