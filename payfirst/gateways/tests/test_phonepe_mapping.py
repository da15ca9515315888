"""PhonePe payloads to gateway-neutral types: every order and refund state, unknown ones refused, lenient callbacks."""

from __future__ import annotations

import pytest

from payfirst.core.money import Paise
from payfirst.gateways.base import AttemptStatus, EventKind, GatewayRejected, GatewayStatus, RefundStatus
from payfirst.gateways.phonepe import mapping
from payfirst.gateways.tests.conftest import fixture_bytes, fixture_json


@pytest.mark.parametrize(
    "state, expected",
    [
        ("PENDING", GatewayStatus.PENDING),
        ("COMPLETED", GatewayStatus.CAPTURED),
        ("FAILED", GatewayStatus.FAILED),
        ("EXPIRED", GatewayStatus.FAILED),
    ],
)
def test_order_state_maps_every_phonepe_state(state, expected):
    body = {**fixture_json("phonepe/order_status_completed.json"), "state": state}
    assert mapping.payment_from(body, merchant_order_id="PAY-7Q3K9X2M").status is expected


@pytest.mark.parametrize(
    "state, expected",
    [
        ("PENDING", RefundStatus.PENDING),
        ("CONFIRMED", RefundStatus.PENDING),
        ("COMPLETED", RefundStatus.PROCESSED),
        ("FAILED", RefundStatus.FAILED),
    ],
)
def test_refund_state_maps_every_phonepe_state(state, expected):
    body = {**fixture_json("phonepe/refund_status_completed.json"), "state": state}
    assert mapping.refund_from(body, merchant_refund_id="RF-3F9A21C7").status is expected


def test_state_tables_cover_exactly_the_documented_states():
    assert set(mapping.ORDER_STATE) == {"PENDING", "COMPLETED", "FAILED", "EXPIRED"}
    assert set(mapping.REFUND_STATE) == {"PENDING", "CONFIRMED", "COMPLETED", "FAILED"}


@pytest.mark.parametrize("state", ["completed", "SUCCESS", "", None])
def test_unknown_states_are_rejected(state):
    with pytest.raises(GatewayRejected):
        mapping.payment_from(
            {**fixture_json("phonepe/order_status_completed.json"), "state": state}, merchant_order_id="PAY-7Q3K9X2M"
        )
    with pytest.raises(GatewayRejected):
        mapping.refund_from(
            {**fixture_json("phonepe/refund_status_completed.json"), "state": state}, merchant_refund_id="RF-3F9A21C7"
        )


def test_completed_order_names_the_completed_attempt():
    payment = mapping.payment_from(
        fixture_json("phonepe/order_status_completed.json"), merchant_order_id="PAY-7Q3K9X2M"
    )
    assert payment.gateway_order_id == "PAY-7Q3K9X2M"
    assert payment.gateway_payment_id == "OM2406121817537233671905"  # not the earlier failed attempt
    assert payment.amount == Paise(50000) and payment.currency == "INR"


def test_every_attempt_is_listed_and_a_failed_one_leaves_a_pending_order_payable():
    completed = fixture_json("phonepe/order_status_completed.json")
    failed_attempt = next(a for a in completed["paymentDetails"] if a["state"] == "FAILED")
    body = {**completed, "state": "PENDING", "paymentDetails": [failed_attempt]}
    payment = mapping.payment_from(body, merchant_order_id="PAY-7Q3K9X2M")
    assert payment.status is GatewayStatus.PENDING
    assert [(a.gateway_payment_id, a.status) for a in payment.attempts] == [
        (failed_attempt["transactionId"], AttemptStatus.FAILED)
    ]
    assert {a.status for a in mapping.payment_from(completed, merchant_order_id="PAY-7Q3K9X2M").attempts} == {
        AttemptStatus.FAILED,
        AttemptStatus.CAPTURED,
    }


def test_failed_order_keeps_the_error_codes_and_latest_attempt():
    payment = mapping.payment_from(fixture_json("phonepe/order_status_failed.json"), merchant_order_id="PAY-7Q3K9X2M")
    assert payment.status is GatewayStatus.FAILED
    assert (payment.error_code, payment.error_description) == ("PAYMENT_ERROR", "TXN_AUTO_FAILED")
    assert payment.gateway_payment_id == "OM2406121817537233671900"


def test_pending_order_without_attempts():
    payment = mapping.payment_from(fixture_json("phonepe/order_status_pending.json"), merchant_order_id="PAY-7Q3K9X2M")
    assert payment.status is GatewayStatus.PENDING and payment.gateway_payment_id is None


def test_status_of_another_order_is_rejected():
    with pytest.raises(GatewayRejected):
        mapping.payment_from(fixture_json("phonepe/order_status_completed.json"), merchant_order_id="PAY-OTHER")


@pytest.mark.parametrize("amount", ["50000", 500.0, None])
def test_non_integer_amount_is_rejected(amount):
    with pytest.raises(GatewayRejected):
        mapping.payment_from(
            {**fixture_json("phonepe/order_status_completed.json"), "amount": amount}, merchant_order_id="PAY-7Q3K9X2M"
        )


def test_callback_order_completed():
    body = fixture_bytes("phonepe/callback_order_completed.json")
    event = mapping.event_from(fixture_json("phonepe/callback_order_completed.json"), body=body)
    assert (event.kind, event.name, event.status) == (EventKind.PAYMENT, "checkout.order.completed", "COMPLETED")
    assert event.gateway_order_id == "PAY-7Q3K9X2M" and event.gateway_payment_id == "OM2406121817537233671905"
    assert event.amount == Paise(50000) and event.currency == "INR"
    assert event.event_id == "checkout.order.completed:PAY-7Q3K9X2M:COMPLETED"


def test_callback_refund_completed():
    event = mapping.event_from(fixture_json("phonepe/callback_refund_completed.json"), body=b"")
    assert event.kind is EventKind.REFUND and event.status == "COMPLETED"
    assert event.gateway_refund_id == "RF-3F9A21C7" == event.refund_reference
    assert event.gateway_order_id == "PAY-7Q3K9X2M" and event.amount == Paise(20000)


def test_callback_is_read_leniently():
    document = fixture_json("phonepe/callback_order_failed.json")
    document["type"] = "SOMETHING_NEW"  # PhonePe's own SDK crashes here; `type` is being deprecated
    document["payload"]["brandNewField"] = {"nested": [1, 2]}
    event = mapping.event_from(document, body=b"")
    assert event.kind is EventKind.PAYMENT and event.status == "FAILED"
    del document["type"]
    assert mapping.event_from(document, body=b"").status == "FAILED"


@pytest.mark.parametrize(
    ("fixture", "kind", "name"),
    [
        ("phonepe/callback_order_completed.json", "CHECKOUT_ORDER_COMPLETED", "checkout.order.completed"),
        ("phonepe/callback_order_failed.json", "CHECKOUT_ORDER_FAILED", "checkout.order.failed"),
        ("phonepe/callback_refund_completed.json", "PG_REFUND_COMPLETED", "pg.refund.completed"),
    ],
)
def test_callback_with_only_the_older_type_field_is_understood(fixture, kind, name):
    document = fixture_json(fixture)
    del document["event"]
    document["type"] = kind
    event = mapping.event_from(document, body=b"")
    assert event.name == name and event.kind is not EventKind.OTHER
    assert event.event_id == mapping.event_from(fixture_json(fixture), body=b"").event_id  # same event, same id


def test_failed_then_completed_callbacks_have_different_event_ids():
    failed = mapping.event_from(fixture_json("phonepe/callback_order_failed.json"), body=b"a")
    completed = mapping.event_from(fixture_json("phonepe/callback_order_completed.json"), body=b"b")
    assert failed.event_id != completed.event_id


@pytest.mark.parametrize("name", ["subscription.setup.order.completed", "pg.something.new", "x"])
def test_unknown_events_are_other_with_a_body_digest_id(name):
    event = mapping.event_from({"event": name, "payload": {"state": "ACTIVE"}}, body=b"raw")
    assert event.kind is EventKind.OTHER and event.event_id.startswith("sha256:")


@pytest.mark.parametrize(
    "document",
    [
        [],
        {},
        {"payload": {}},
        {"event": "checkout.order.completed", "payload": {"state": "COMPLETED"}},
        {"event": "pg.refund.completed", "payload": "nope"},
    ],
)
def test_callbacks_that_name_nothing_are_rejected(document):
    with pytest.raises(GatewayRejected):
        mapping.event_from(document, body=b"")
