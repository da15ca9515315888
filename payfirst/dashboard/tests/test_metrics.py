"""The payment gauges on /metrics: values after rows are written, one query each, the paid-but-not-fulfilled alarm,
and a database failure that skips a gauge without breaking the endpoint."""

from __future__ import annotations

import logging

import pytest
from django.apps import apps
from django.db import OperationalError, connection
from prometheus_client.parser import text_string_to_metric_families

from payfirst.dashboard.metrics import build_collectors, register_collectors
from payfirst.payments.handover import fulfil
from payfirst.payments.models import Refund, RefundStatus, WebhookEvent, WebhookOutcome
from payfirst.payments.states import PaymentStatus
from payfirst.testing import factories
from payfirst.testing.factories import make_bare_payment

pytestmark = pytest.mark.django_db

S = PaymentStatus


def scrape(client) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """/metrics as {sample name: {sorted labels: value}}."""
    response = client.get("/metrics")
    assert response.status_code == 200
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def by(samples: dict, name: str, label: str) -> dict[str, float]:
    return {dict(labels)[label]: value for labels, value in samples[name].items()}


def alarm(client) -> float:
    return scrape(client)["payfirst_captured_without_fulfilment"][()]


def test_payments_by_status(client, user):
    for status in (S.PENDING, S.PENDING, S.CAPTURED, S.FAILED, S.REFUNDED):
        make_bare_payment(user=user, status=status)
    counts = by(scrape(client), "payfirst_payments", "status")
    assert counts == {**dict.fromkeys(S.values, 0), S.PENDING: 2, S.CAPTURED: 1, S.FAILED: 1, S.REFUNDED: 1}


def test_webhook_events_by_gateway_and_outcome(client):
    for gateway, outcome in [
        ("razorpay", WebhookOutcome.PROCESSED),
        ("razorpay", WebhookOutcome.PROCESSED),
        ("razorpay", WebhookOutcome.DUPLICATE),
        ("phonepe", WebhookOutcome.INVALID_SIGNATURE),
    ]:
        WebhookEvent.objects.create(gateway=gateway, body="{}", outcome=outcome)
    samples = scrape(client)["payfirst_webhook_events"]
    counts = {(dict(labels)["gateway"], dict(labels)["outcome"]): value for labels, value in samples.items()}
    assert counts[("razorpay", "processed")] == 2
    assert counts[("razorpay", "duplicate")] == 1
    assert counts[("phonepe", "invalid_signature")] == 1
    assert counts[("phonepe", "processed")] == 0  # every gateway and outcome is reported, zeros included
    assert len(counts) == 2 * len(WebhookOutcome.values)


def test_refunds_by_status(client, user):
    payment = make_bare_payment(user=user, status=S.PARTIALLY_REFUNDED, amount=90_000)
    for status in (RefundStatus.PENDING, RefundStatus.PROCESSED, RefundStatus.PROCESSED, RefundStatus.FAILED):
        Refund.objects.create(payment=payment, amount=1_000, status=status, reason="customer asked")
    assert by(scrape(client), "payfirst_refunds", "status") == {"PENDING": 1, "PROCESSED": 2, "FAILED": 1}


def test_captured_without_fulfilment_counts_only_captured_payments_left_with_nothing(client, user):
    assert alarm(client) == 0
    unfulfilled = make_bare_payment(user=user, status=S.CAPTURED)
    assert alarm(client) == 1

    # A refund on its way back or already back clears it; a failed one does not: the money is still held.
    Refund.objects.create(payment=unfulfilled, amount=unfulfilled.amount, status=RefundStatus.FAILED, reason="x")
    assert alarm(client) == 1
    Refund.objects.create(payment=unfulfilled, amount=unfulfilled.amount, status=RefundStatus.PENDING, reason="x")
    assert alarm(client) == 0

    # Other states never count: they are not holding money for nothing, or someone has acted on them already.
    for status in (S.PENDING, S.FAILED, S.FLAGGED, S.PARTIALLY_REFUNDED, S.REFUNDED):
        make_bare_payment(user=user, status=status)
    assert alarm(client) == 0


@pytest.mark.parametrize("kind", ["product", "service", "plan"])
def test_captured_without_fulfilment_is_cleared_by_any_fulfilment(client, user, kind):
    f = factories
    if kind == "product":
        line = f.product_line(f.make_variant(), 2)
    elif kind == "service":
        package = f.make_package()
        line = f.service_line(package, f.make_slot(package=package))
    else:
        line = f.plan_line(f.make_plan())
    payment = f.make_captured_payment(user=user, lines=[line])
    assert alarm(client) == 1
    fulfil(payment=payment)
    assert alarm(client) == 0


def test_each_collector_is_one_query_whatever_the_data(user, django_assert_num_queries):
    for n in range(12):
        payment = make_bare_payment(user=user, status=(S.CAPTURED, S.PENDING, S.PARTIALLY_REFUNDED)[n % 3])
        Refund.objects.create(payment=payment, amount=100, status=RefundStatus.values[n % 3], reason="x")
        WebhookEvent.objects.create(gateway=("razorpay", "phonepe")[n % 2], body="{}")
    for collector in build_collectors():
        with django_assert_num_queries(1):
            (family,) = list(collector.collect())
        assert family.samples


def test_database_error_skips_that_gauge_and_counts_it(client, user, caplog):
    make_bare_payment(user=user, status=S.CAPTURED)
    before = scrape(client)
    errors_before = by(before, "payfirst_metrics_collector_errors_total", "collector")

    def refunds_table_is_gone(execute, sql, params, many, context):
        if "payments_refund" in sql:
            raise OperationalError("no such table: payments_refund")
        return execute(sql, params, many, context)

    with caplog.at_level(logging.WARNING, logger="payfirst.dashboard"):
        with connection.execute_wrapper(refunds_table_is_gone):
            during = scrape(client)

    # The refunds gauge and the alarm (which reads refunds) are skipped; the rest still answer.
    assert "payfirst_refunds" not in during
    assert "payfirst_captured_without_fulfilment" not in during
    assert by(during, "payfirst_payments", "status")[S.CAPTURED] == 1
    assert "payfirst_task_queue_depth" in during
    errors = by(during, "payfirst_metrics_collector_errors_total", "collector")
    assert errors["payfirst_refunds"] == errors_before["payfirst_refunds"] + 1
    assert errors["payfirst_captured_without_fulfilment"] == errors_before["payfirst_captured_without_fulfilment"] + 1
    assert errors["payfirst_payments"] == errors_before["payfirst_payments"]
    assert "Metric payfirst_refunds not collected" in caplog.text

    after = scrape(client)
    assert after["payfirst_captured_without_fulfilment"][()] == 1


def test_registering_again_is_a_no_op(client):
    register_collectors()
    apps.get_app_config("dashboard").ready()
    body = client.get("/metrics").content.decode()
    assert body.count("# TYPE payfirst_payments gauge") == 1


def test_metrics_in_multiprocess_mode_still_report_payments(client, user, monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    make_bare_payment(user=user, status=S.EXPIRED)
    assert by(scrape(client), "payfirst_payments", "status")[S.EXPIRED] == 1
