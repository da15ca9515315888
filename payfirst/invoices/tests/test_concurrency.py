"""Numbers under concurrency on PostgreSQL: 20 captures issuing at the same moment, each on its own thread and
connection, some of them rolling back after taking their number, get consecutive unique numbers with no gaps."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from payfirst.invoices.models import Document, DocumentCounter
from payfirst.invoices.services import issue_documents_for_capture
from payfirst.invoices.tests import inputs as f
from payfirst.testing.concurrency import run_concurrently
from payfirst.testing.factories import make_variant

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
THREADS = 20


class CaptureFailed(Exception):
    """Stands in for whatever makes a capture's transaction roll back after its invoice was issued."""


@pytest.mark.parametrize("when", [f.at(2027, 3, 31, 23, 59), f.at(2027, 4, 1, 0, 0)], ids=["march", "april"])
def test_twenty_concurrent_captures_get_gapless_unique_numbers(user, when):
    item = make_variant(price=11800, hsn_sac="7418", tax_class=f.standard())

    def capture(payment_id: int, fail: bool) -> str:
        with transaction.atomic():
            (document,) = issue_documents_for_capture(
                payment_id=payment_id, captured_at=when, buyer=f.buyer(user), lines=[f.goods_line(item)], discount=0
            )
            if fail:
                raise CaptureFailed(document.number)
            return document.number

    for round_ in range(3):  # the first round also races to create the year's counter row
        failing = {3, 11, 17} if round_ else set()
        calls = [
            (lambda pid=1000 * round_ + i, fail=i in failing: capture(pid, fail))  # noqa: B023 (bound as defaults)
            for i in range(THREADS)
        ]
        results = run_concurrently(calls)
        assert sum(isinstance(r, CaptureFailed) for r in results) == len(failing)
        assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, CaptureFailed)]
    year = "2026-27" if when.month == 3 else "2027-28"
    sequences = sorted(Document.objects.filter(financial_year=year).values_list("sequence", flat=True))
    assert sequences == list(range(1, 3 * THREADS - 6 + 1))  # consecutive from 1: no gaps, no duplicates
    assert DocumentCounter.objects.get(series="INV", financial_year=year).last_number == len(sequences)
    # The same payment issued from several threads at once (the capture's payment lock normally prevents this): the
    # unique constraint on payment and kind lets one through, the others roll back with their numbers (or, starting
    # after it committed, return the document it issued).
    results = run_concurrently([lambda: capture(5000, False) for _ in range(5)])
    numbers = {r for r in results if isinstance(r, str)}
    assert len(numbers) == 1 and all(isinstance(r, IntegrityError) for r in results if not isinstance(r, str))
    assert numbers == {Document.objects.get(payment_id=5000).number}
    assert Document.objects.filter(payment_id=5000).count() == 1
    assert Document.objects.get(payment_id=5000).sequence == len(sequences) + 1
