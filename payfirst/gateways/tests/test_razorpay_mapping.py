"""Razorpay payloads to gateway-neutral types: every status, unknown statuses refused, webhook envelopes parsed."""

from __future__ import annotations

import pytest

from payfirst.core.money import Paise
from payfirst.gateways.base import AttemptStatus, EventKind, GatewayRejected, GatewayStatus, RefundStatus
from payfirst.gateways.razorpay import mapping
from payfirst.gateways.tests.conftest import fixture_json


@pytest.mark.parametrize(
    "status, captured, attempt, expected",
    [
        ("created", True, AttemptStatus.PENDING, GatewayStatus.PENDING),
        ("authorized", False, AttemptStatus.AUTHORIZED, GatewayStatus.AUTHORIZED),
        ("captured", True, AttemptStatus.CAPTURED, GatewayStatus.CAPTURED),
        ("refunded", True, AttemptStatus.CAPTURED, GatewayStatus.CAPTURED),  # captured, refunded since
        ("refunded", False, AttemptStatus.RETURNED, GatewayStatus.PENDING),  # auto-refunded, never captured
        ("failed", False, AttemptStatus.FAILED, GatewayStatus.PENDING),  # the order stays payable
    ],
)
def test_payment_status_maps_every_razorpay_status(status, captured, attempt, expected):
    entity = {**fixture_json("razorpay/payment_captured.json"), "status": status, "captured": captured}
    assert mapping.payment_status(entity) is attempt
    assert mapping.payment_from(entity).status is expected


def test_captured_status_with_captured_false_is_rejected():
    with pytest.raises(GatewayRejected):
        mapping.payment_status({**fixture_json("razorpay/payment_captured.json"), "captured": False})


def test_payment_status_table_covers_exactly_the_documented_statuses():  # refunded: by `captured`
    assert set(mapping.PAYMENT_STATUS) == {"created", "authorized", "captured", "refunded", "failed"}
    assert set(mapping.ORDER_STATUS) == {"created", "attempted", "paid"}
    assert set(mapping.REFUND_STATUS) == {"pending", "processed", "failed"}


@pytest.mark.parametrize("status", ["pending", "CAPTURED", "", None, 3])
def test_unknown_payment_status_is_rejected(status):
    entity = {**fixture_json("razorpay/payment_captured.json"), "status": status}
    with pytest.raises(GatewayRejected):
        mapping.payment_from(entity)


@pytest.mark.parametrize(
    "status, expected",
    [("pending", RefundStatus.PENDING), ("processed", RefundStatus.PROCESSED), ("failed", RefundStatus.FAILED)],
)
def test_refund_status_maps_every_razorpay_status(status, expected):
    entity = {**fixture_json("razorpay/refund_processed.json"), "status": status}
    assert mapping.refund_from(entity).status is expected


def test_unknown_refund_status_is_rejected():
    with pytest.raises(GatewayRejected):
        mapping.refund_from({**fixture_json("razorpay/refund_processed.json"), "status": "reversed"})


@pytest.mark.parametrize("status, expected", [("created", GatewayStatus.PENDING), ("attempted", GatewayStatus.PENDING)])
def test_unpaid_order_maps_order_status(status, expected):
    order = {**fixture_json("razorpay/order_created.json"), "status": status}
    payment = mapping.unpaid_order_from(order)
    assert payment.status is expected and payment.gateway_payment_id is None and payment.amount == Paise(50000)


def test_paid_order_without_payments_and_unknown_order_status_are_rejected():
    with pytest.raises(GatewayRejected):
        mapping.unpaid_order_from({**fixture_json("razorpay/order_created.json"), "status": "paid"})
    with pytest.raises(GatewayRejected):
        mapping.unpaid_order_from({**fixture_json("razorpay/order_created.json"), "status": "closed"})


def test_payment_from_captured_fixture():
    payment = mapping.payment_from(fixture_json("razorpay/payment_captured.json"))
    assert payment.gateway_order_id == "order_EKwxwAgItmmXdp"
    assert payment.gateway_payment_id == "pay_G8VQzjPLoAvm6D"
    assert payment.amount == Paise(50000) and payment.currency == "INR"
    assert payment.error_code == ""


def test_payment_from_failed_fixture_keeps_the_error():
    payment = mapping.payment_from(fixture_json("razorpay/payment_failed.json"))
    assert payment.status is GatewayStatus.PENDING and payment.attempts[0].status is AttemptStatus.FAILED
    assert payment.error_code == "BAD_REQUEST_ERROR" and payment.error_description == "Payment failed"


@pytest.mark.parametrize("amount", [500.0, "50000", None, True])
def test_non_integer_amount_is_rejected(amount):
    with pytest.raises(GatewayRejected):
        mapping.payment_from({**fixture_json("razorpay/payment_captured.json"), "amount": amount})


def test_best_attempt_prefers_captured_then_authorized_then_created_then_failed():
    failed = fixture_json("razorpay/payment_failed.json")
    authorized = fixture_json("razorpay/payment_authorized.json")
    captured = {**fixture_json("razorpay/payment_captured.json"), "created_at": 1}  # oldest, still wins
    created = {**authorized, "id": "pay_created", "status": "created", "created_at": 1606985999}
    assert mapping.best_attempt([failed, created, authorized, captured]) is captured
    assert mapping.best_attempt([failed, created, authorized]) is authorized
    assert mapping.best_attempt([authorized | {"status": "failed"}, created]) is created
    assert mapping.best_attempt([failed]) is failed
    assert mapping.best_attempt([]) is None
    # Of two captures the first wins; an uncaptured `refunded` (auto-refunded authorisation) never beats a capture.
    later = {**captured, "id": "pay_later", "created_at": 50}
    returned = {**captured, "id": "pay_returned", "status": "refunded", "captured": False, "created_at": 99}
    assert mapping.best_attempt([later, captured, returned]) is captured


def test_best_attempt_takes_the_latest_among_failures():
    first = {**fixture_json("razorpay/payment_failed.json"), "id": "pay_first", "created_at": 100}
    second = {**fixture_json("razorpay/payment_failed.json"), "id": "pay_second", "created_at": 200}
    best = mapping.best_attempt([second, first])
    assert best is not None and best["id"] == "pay_second"


def test_best_attempt_refuses_an_unknown_status_anywhere():
    with pytest.raises(GatewayRejected):
        mapping.best_attempt([fixture_json("razorpay/payment_captured.json"), {"status": "disputed"}])


def test_event_from_payment_captured():
    event = mapping.event_from(fixture_json("razorpay/webhook_payment_captured.json"), event_id="evt_1")
    assert (event.kind, event.name, event.event_id) == (EventKind.PAYMENT, "payment.captured", "evt_1")
    assert event.gateway_order_id == "order_EKwxwAgItmmXdp"
    assert event.gateway_payment_id == "pay_G8VQzjPLoAvm6D"
    assert event.amount == Paise(50000) and event.currency == "INR" and event.status == "captured"
    assert event.gateway_refund_id is None and event.payload["event"] == "payment.captured"


def test_event_from_order_paid_names_order_and_payment():
    event = mapping.event_from(fixture_json("razorpay/webhook_order_paid.json"), event_id="evt_2")
    assert event.kind is EventKind.PAYMENT
    assert (event.gateway_order_id, event.gateway_payment_id) == ("order_EKwxwAgItmmXdp", "pay_G8VQzjPLoAvm6D")


def test_event_from_payment_failed():
    event = mapping.event_from(fixture_json("razorpay/webhook_payment_failed.json"), event_id="evt_3")
    assert event.kind is EventKind.PAYMENT and event.status == "failed"


def test_event_from_refund_processed():
    event = mapping.event_from(fixture_json("razorpay/webhook_refund_processed.json"), event_id="evt_4")
    assert event.kind is EventKind.REFUND and event.name == "refund.processed"
    assert event.gateway_refund_id == "rfnd_JnzyQwYOOBNJJu" and event.refund_reference == "RF-3F9A21C7"
    assert event.gateway_payment_id == "pay_G8VQzjPLoAvm6D" and event.gateway_order_id == "order_EKwxwAgItmmXdp"
    assert event.amount == Paise(20000) and event.status == "processed"


def test_event_from_unknown_event_is_other():
    event = mapping.event_from({"event": "invoice.paid", "payload": {"invoice": {"entity": {}}}}, event_id="evt_5")
    assert event.kind is EventKind.OTHER and event.name == "invoice.paid" and event.amount is None


@pytest.mark.parametrize(
    "envelope",
    [
        [],
        "x",
        {},
        {"event": 7},
        {"event": "payment.captured", "payload": {}},
        {"event": "refund.processed", "payload": {"payment": {"entity": {"id": "pay_1"}}}},
    ],
)
def test_event_from_malformed_envelope_is_rejected(envelope):
    with pytest.raises(GatewayRejected):
        mapping.event_from(envelope, event_id="evt")
