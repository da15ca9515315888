"""The month calendar of a service: places left per day, in one query, with the error shape for bad input."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from payfirst.testing.factories import make_service, make_slot

pytestmark = pytest.mark.django_db


def availability_url(service_id: int) -> str:
    return f"/api/catalog/services/{service_id}/availability/"


def next_month_first() -> date:
    today = timezone.localdate()
    return (today.replace(day=1) + timedelta(days=32)).replace(day=1)


def test_availability_sums_the_places_left_per_day_and_leaves_out_days_without_slots(api_client):
    puja = make_service()
    first = next_month_first()
    make_slot(service=puja, on=first, at=time(7, 0), capacity=3, taken=1)
    make_slot(service=puja, on=first, at=time(16, 0), capacity=2, taken=0)
    make_slot(service=puja, on=first + timedelta(days=4), at=time(7, 0), capacity=1, taken=1)
    make_slot(service=puja, on=first + timedelta(days=5), at=time(7, 0), capacity=9, is_active=False)
    make_slot(service=puja, on=first - timedelta(days=1), at=time(7, 0), capacity=5)  # the month before
    make_slot(service=make_service(), on=first + timedelta(days=1), at=time(7, 0))  # another service

    month = first.strftime("%Y-%m")
    response = api_client.get(availability_url(puja.id), {"month": month})

    assert response.status_code == 200
    assert response.json() == {
        "service_id": puja.id,
        "month": month,
        "days": [
            {"date": first.isoformat(), "remaining": 4},
            {"date": (first + timedelta(days=4)).isoformat(), "remaining": 0},
        ],
    }


def test_availability_leaves_out_past_days_and_slots_that_have_started(api_client):
    puja = make_service()
    now = timezone.localtime()
    yesterday = now.date() - timedelta(days=1)
    make_slot(service=puja, on=yesterday, at=time(23, 59), capacity=5)
    month = now.strftime("%Y-%m")

    days = api_client.get(availability_url(puja.id), {"month": month}).json()["days"]

    assert yesterday.isoformat() not in [day["date"] for day in days]


def test_availability_of_a_service_with_no_slots_that_month_is_an_empty_list(api_client):
    puja = make_service()
    response = api_client.get(availability_url(puja.id), {"month": next_month_first().strftime("%Y-%m")})
    assert response.status_code == 200
    assert response.json()["days"] == []


def test_availability_defaults_to_the_current_month(api_client):
    puja = make_service()
    response = api_client.get(availability_url(puja.id))
    assert response.status_code == 200
    assert response.json()["month"] == timezone.localdate().strftime("%Y-%m")


def test_availability_is_one_query_whatever_the_month_holds(api_client):
    puja = make_service()
    first = next_month_first()
    month = first.strftime("%Y-%m")
    with CaptureQueriesContext(connection) as empty:
        api_client.get(availability_url(puja.id), {"month": month})
    for offset in range(20):
        for hour in (6, 9, 18):
            make_slot(service=puja, on=first + timedelta(days=offset), at=time(hour, 0), capacity=4)
    with CaptureQueriesContext(connection) as full:
        days = api_client.get(availability_url(puja.id), {"month": month}).json()["days"]
    assert len(days) == 20 and days[0]["remaining"] == 12
    assert len(empty) == len(full) == 1


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "26-01", "0999-01", "2026-01-01", "२०२६-०१"])
def test_availability_refuses_a_month_that_is_not_yyyy_mm(api_client, month):
    response = api_client.get(availability_url(make_service().id), {"month": month})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert list(response.json()["error"]["fields"]) == ["month"]


def test_availability_of_an_inactive_or_unknown_service_answers_404(api_client):
    hidden = make_service(is_active=False)
    for service_id in (hidden.id, 424242, 2**63):
        response = api_client.get(availability_url(service_id), {"month": "2030-01"})
        assert response.status_code == 404, service_id
        assert response.json()["error"]["code"] == "not_found"


def test_availability_is_in_the_openapi_schema(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/catalog/services/{service_id}/availability/"]["get"]
    assert [p["name"] for p in operation["parameters"] if p["in"] == "query"] == ["month"]
    assert set(operation["responses"]) == {"200", "400", "404"}
