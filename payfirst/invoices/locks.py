"""Invoices' hand-written hot-path SQL: the one read every capture's documents start from — each line's HSN/SAC code
and the rate of its tax class on the day of supply.

Plain parameterised SQL because it runs in every capture, where the ORM spent more building a UNION of three
querysets and a second query for the rates than the database spent running them. The same statement runs on
PostgreSQL and SQLite; table names come from `payfirst.core.sql`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import connection
from django.db.models import Model

from payfirst.catalog.models import Plan, ServicePackage, TaxRate, Variant
from payfirst.core.sql import placeholders, table

# The line's key (which catalog row it names) and that row's model.
LINE_KINDS: tuple[tuple[str, type[Model]], ...] = (
    ("variant_id", Variant),
    ("package_id", ServicePackage),
    ("plan_id", Plan),
)


@dataclass(frozen=True)
class LineTax:
    hsn_sac: str
    rate: int | None  # basis points; None: the row has no tax class, or its class no period in force on the day
    exempt: bool


def line_taxes(*, ids: Mapping[str, Collection[int]], day: date) -> dict[tuple[str, int], LineTax]:
    """{(line key, catalog row id): its code and its class's rate on `day`} for the rows `ids` names per line key
    ("variant_id", "package_id", "plan_id"), in one statement. A class's rate on a day is its latest period starting on
    or before that day."""
    parts: list[str] = []
    params: list[Any] = []
    for key, model in LINE_KINDS:
        wanted = sorted(set(ids.get(key, ())))
        if wanted:
            parts.append(
                f"SELECT %s AS line_key, r.id AS id, r.hsn_sac AS hsn_sac, r.tax_class_id AS tax_class_id "
                f"FROM {table(model)} r WHERE r.id IN ({placeholders(len(wanted))})"
            )
            params += [key, *wanted]
    if not parts:
        return {}
    rates = table(TaxRate)
    # The period in force is found once per row and joined, not looked up again for each of its columns.
    sql = (
        f"SELECT k.line_key, k.id, k.hsn_sac, t.rate, t.exempt FROM ({' UNION ALL '.join(parts)}) k "
        f"LEFT JOIN {rates} t ON t.id = (SELECT p.id FROM {rates} p WHERE p.tax_class_id = k.tax_class_id "
        f"AND p.effective_from <= %s ORDER BY p.effective_from DESC LIMIT 1)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, day])
        rows = cursor.fetchall()
    return {
        (str(key), int(pk)): LineTax(hsn_sac=str(code), rate=None if rate is None else int(rate), exempt=bool(exempt))
        for key, pk, code, rate, exempt in rows
    }
