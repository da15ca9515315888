"""Catalog selectors: which slots are still bookable at a given moment."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings

from payfirst.catalog.selectors import slot_list, upcoming_slots
from payfirst.testing.factories import make_service, make_slot

pytestmark = pytest.mark.django_db

KOLKATA = ZoneInfo("Asia/Kolkata")


def test_slot_list_drops_slots_that_have_started_today_and_keeps_later_ones():
    puja = make_service()
    day = date(2030, 3, 14)
    for hour in (6, 10, 16):
        make_slot(service=puja, on=day, at=time(hour, 0))
    now = datetime(2030, 3, 14, 10, 0, tzinfo=KOLKATA)  # the 10:00 slot starts this very moment

    assert [slot.time for slot in slot_list(service=puja, day=day, now=now)] == [time(16, 0)]


@override_settings(TIME_ZONE="Asia/Kolkata")
def test_upcoming_slots_compare_against_the_merchants_wall_clock_not_utc():
    puja = make_service()
    early = make_slot(service=puja, on=date(2030, 3, 15), at=time(2, 0))
    # 21:00 UTC on the 14th is 02:30 on the 15th in Kolkata: the 02:00 slot on the 15th has started.
    now = datetime(2030, 3, 14, 21, 0, tzinfo=ZoneInfo("UTC"))

    assert early not in upcoming_slots(now=now)
    assert early in upcoming_slots(now=datetime(2030, 3, 14, 20, 0, tzinfo=ZoneInfo("UTC")))


def test_upcoming_slots_leave_out_inactive_slots():
    puja = make_service()
    make_slot(service=puja, on=date(2030, 1, 1), at=time(9, 0), is_active=False)
    assert not upcoming_slots(now=datetime(2029, 1, 1, tzinfo=KOLKATA)).exists()
