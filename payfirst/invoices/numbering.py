"""Document numbers: consecutive per series and financial year, taken under a row lock in the issuing transaction.

One statement, an upsert: `INSERT … VALUES (…, 1) ON CONFLICT (series, financial_year) DO UPDATE SET last_number =
last_number + 1 RETURNING last_number`. It creates the year's counter on first use and otherwise moves it on by one,
holding the counter row's lock until the issuing transaction ends. Concurrent issuers queue on the row (two first
issuers of a new year too: the second waits for the first's insert, then updates); a transaction that rolls back
gives its number back with it, so the series has no gaps and no duplicates. PostgreSQL and SQLite (3.35+) both run
it as written.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.db import connection

from payfirst.invoices.models import DocumentCounter

INDIA = ZoneInfo("Asia/Kolkata")
NUMBER_LIMIT = 16  # Rule 46(b), 49, 53: at most 16 characters


def financial_year(day: date) -> str:
    """The Indian financial year (1 April to 31 March) holding `day`: 2026-04-01 → "2026-27"."""
    start = day.year if day.month >= 4 else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def local_day(moment: datetime) -> date:
    """The calendar date in India of an aware time: the date of supply and of the document."""
    return moment.astimezone(INDIA).date()


def format_number(*, series: str, year: str, sequence: int) -> str:
    """`INV/2627/000123`: series, the financial year's two two-digit years, six digits (more past 999999). At most
    16 characters of letters, digits, `/` and `-`."""
    number = f"{series}/{year[2:4]}{year[5:7]}/{sequence:06d}"
    if len(number) > NUMBER_LIMIT:
        raise ValueError(f"Document number {number} is longer than {NUMBER_LIMIT} characters.")
    return number


def take_number(*, series: str, year: str) -> int:
    """The next number in `series` for `year`. Call inside the transaction that saves the document: the counter row
    stays locked until it commits (or rolls back, and the number is not used)."""
    if not connection.in_atomic_block:
        raise RuntimeError("take_number must run inside the transaction that saves the document.")
    table = connection.ops.quote_name(DocumentCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (series, financial_year, last_number) VALUES (%s, %s, 1) "
            f"ON CONFLICT (series, financial_year) DO UPDATE SET last_number = {table}.last_number + 1 "
            f"RETURNING last_number",
            [series, year],
        )
        (number,) = cursor.fetchone()
    return int(number)
