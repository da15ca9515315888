"""Schemathesis over /api/schema/, in-process against the WSGI app: every operation, valid and invalid inputs, as a
signed-in customer and as staff, against demo data so that many ids exist. No answer may be a 5xx, and every answer
must match the document (status code listed, body and headers as described, JSON where JSON is promised).

Derandomised, so a run is repeatable; docs/reliability.md records its figures. Rate limits are off here (each case
would otherwise spend the same client's allowance); their own tests are in test_throttling.py.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import bearer_for

pytestmark = pytest.mark.django_db(transaction=False)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Per operation and generation mode; with ~40 operations in two modes this is well over 2,000 cases.
EXAMPLES_PER_OPERATION = 30
MINIMUM_CASES = 2000


def _rates_off() -> dict[str, Any]:
    from django.conf import settings as django_settings

    rates = {scope: "off" for scope in django_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}
    return {**django_settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


def _fuzz(operation: Any, mode: GenerationMode, tokens: list[str], cases: Counter[str], failures: list[str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        cases[mode.value] += 1
        # Alternate between the customer and staff; a case that sets its own Authorization keeps it.
        sent = {str(name).lower() for name in (case.headers or {})}
        headers = {} if "authorization" in sent else {"Authorization": tokens[cases.total() % 2]}
        response = case.call(headers=headers)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (AssertionError, FailureGroup) as failure:
            failures.append(f"{operation.label} [{mode.value}] {response.status_code} {response.text[:300]}\n{failure}")

    run()


def test_schemathesis_finds_no_server_error_and_no_schema_violation(make_user):
    call_command("seed_demo", verbosity=0)
    customer = make_user(email="fuzz@example.com")
    staff = make_user(email="fuzz-staff@example.com", is_staff=True)
    tokens = [bearer_for(who) for who in (customer, staff)]

    cases: Counter[str] = Counter()
    failures: list[str] = []
    # As Django's test client does: the WSGI handler would otherwise close the connection after each request, and
    # with it the test's transaction (PostgreSQL).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        operations = _fuzz_all(tokens, cases, failures)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    summary = {"operations": operations, "cases": dict(cases), "total": cases.total(), "failures": len(failures)}
    print("schemathesis:", json.dumps(summary))
    assert not failures, "\n\n".join(failures[:12])
    assert cases.total() >= MINIMUM_CASES, summary


def _fuzz_all(tokens: list[str], cases: Counter[str], failures: list[str]) -> int:
    """Every operation in both modes; returns how many operations there were."""
    with override_settings(REST_FRAMEWORK=_rates_off()):
        # The gateways' stand-in answers in Razorpay's and PhonePe's shapes, not payfirst's, and is its own server.
        schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application()).exclude(
            path_regex="^/sandbox/"
        )
        operations = []
        for result in schema.get_all_operations():
            if isinstance(result, Err):  # an operation schemathesis cannot read: the document itself is wrong
                raise result.err()
            operations.append(result.ok())
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz(operation, mode, tokens, cases, failures)
    return len(operations)
