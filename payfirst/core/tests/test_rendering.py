"""payfirst's JSON renderer writes the bytes DRF's writes, and its negotiation picks what DRF's picks."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
from django.http import Http404
from django.utils.translation import gettext_lazy
from rest_framework import renderers
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from payfirst.core.rendering import ContentNegotiation, JSONRenderer

SAMPLES = [
    {"amount": 449700, "currency": "INR", "items": [{"id": 1, "quantity": 2}], "promo_code": None, "ok": True},
    {"name": "Brass Diya — Large", "note": "line\u2028break\u2029para", "emoji": "🪔", "quote": 'say "hi" \\ /'},
    {"at": datetime(2026, 11, 30, 7, 5, 9, 123456, tzinfo=UTC), "day": date(2026, 12, 7), "slot": time(10, 0)},
    {"at_ist": datetime(2026, 11, 30, 12, 35, tzinfo=timezone(timedelta(hours=5, minutes=30)))},
    {"rate": Decimal("18.00"), "id": uuid.UUID("12345678-1234-5678-1234-567812345678"), "detail": gettext_lazy("Hi")},
    {1: "int key", "nested": {"empty": [], "tuple": (1, 2), "set_like": frozenset({3})}},
    [1, -2, 0, 2**63 - 1, "x", None, False],
    {"huge": 2**70},  # past orjson's 64 bits: written DRF's way
    "plain string",
    0,
]


@pytest.mark.parametrize("data", SAMPLES)
def test_the_bytes_are_drfs(data):
    assert JSONRenderer().render(data) == renderers.JSONRenderer().render(data)


@pytest.mark.parametrize("data", SAMPLES[:3])
def test_an_indent_asked_for_is_drfs_indented_output(data):
    media_type = "application/json; indent=2"
    indented = JSONRenderer().render(data, media_type, {})
    assert indented == renderers.JSONRenderer().render(data, media_type, {})
    assert b"\n  " in indented


def test_nothing_renders_as_no_bytes():
    assert JSONRenderer().render(None) == b""


def test_line_separators_are_escaped():
    assert JSONRenderer().render({"a": "x\u2028y\u2029z"}) == b'{"a":"x\\u2028y\\u2029z"}'


class PdfRenderer(renderers.BaseRenderer):
    media_type = "application/pdf"
    format = "pdf"


def _request(path: str, headers: dict[str, str]) -> Request:
    return Request(APIRequestFactory().get(path, **headers))  # type: ignore[arg-type]  # headers go to META


ACCEPTS = [
    {},
    {"HTTP_ACCEPT": "*/*"},
    {"HTTP_ACCEPT": "application/json"},
    {"HTTP_ACCEPT": "application/json; indent=4"},
    {"HTTP_ACCEPT": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
    {"HTTP_ACCEPT": "application/pdf"},
]


@pytest.mark.parametrize("headers", ACCEPTS)
@pytest.mark.parametrize(
    "available", [[JSONRenderer()], [JSONRenderer(), PdfRenderer()], [PdfRenderer(), JSONRenderer()]]
)
@pytest.mark.parametrize("path", ["/api/cart/", "/api/cart/?format=pdf", "/api/cart/?page=2"])
def test_negotiation_picks_what_drf_picks(headers, available, path):
    def pick(negotiation) -> tuple[type, str] | str:
        try:
            renderer, media_type = negotiation.select_renderer(_request(path, headers), available)
        except NotAcceptable:
            return "406"
        except Http404:  # ?format= names no renderer the view has
            return "404"
        return type(renderer), media_type

    assert pick(ContentNegotiation()) == pick(DefaultContentNegotiation())


@pytest.mark.django_db
def test_an_unacceptable_accept_header_is_still_refused(client):
    answer = client.get("/api/catalog/products/", HTTP_ACCEPT="application/xml")
    assert answer.status_code == 406
    assert answer.json()["error"]["code"] == "not_acceptable"


@pytest.mark.django_db
def test_the_api_answers_the_same_body_whatever_json_accept(client):
    plain = client.get("/api/catalog/products/")
    starred = client.get("/api/catalog/products/", HTTP_ACCEPT="*/*")
    asked = client.get("/api/catalog/products/", HTTP_ACCEPT="application/json")
    assert plain.status_code == starred.status_code == asked.status_code == 200
    assert plain.content == starred.content == asked.content
    assert plain["Content-Type"] == "application/json"
