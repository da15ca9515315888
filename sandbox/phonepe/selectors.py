"""PhonePe reads: lookups that fail in PhonePe's words, and the order-status, transaction-status, refund-status and
callback payload shapes of Standard Checkout v2. Only enum values PhonePe's SDK can parse are ever written (2.9)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from sandbox.errors import PhonePeApiError
from sandbox.models import PhonePeOrder, PhonePeRefund, PhonePeTransaction

MERCHANT_ID = "PAYFIRSTSANDBOX"
PAYMENT_MODE = "UPI_INTENT"  # a PgV2InstrumentType
EXPIRED_ERROR = ("TXN_EXPIRED", "TXN_AUTO_FAILED")


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def get_order(*, merchant_order_id: str) -> PhonePeOrder:
    order = PhonePeOrder.objects.filter(merchant_order_id=merchant_order_id).first()
    if order is None:
        raise PhonePeApiError("No order found", status=404, code="ORDER_NOT_FOUND")
    return order


def get_transaction(*, transaction_id: str) -> PhonePeTransaction:
    transaction = PhonePeTransaction.objects.select_related("order").filter(transaction_id=transaction_id).first()
    if transaction is None:
        raise PhonePeApiError("No transaction found", status=404, code="TRANSACTION_NOT_FOUND")
    return transaction


def get_refund(*, merchant_refund_id: str) -> PhonePeRefund:
    refund = PhonePeRefund.objects.select_related("order").filter(merchant_refund_id=merchant_refund_id).first()
    if refund is None:
        raise PhonePeApiError("No refund found", status=404, code="REFUND_NOT_FOUND")
    return refund


def is_expired(order: PhonePeOrder) -> bool:
    return order.state == PhonePeOrder.State.PENDING and order.expire_at <= timezone.now()


def order_state(order: PhonePeOrder) -> tuple[str, str | None, str | None]:
    """(state, errorCode, detailedErrorCode). An unpaid order past expireAt reads FAILED: it can no longer be paid."""
    if is_expired(order):
        return PhonePeOrder.State.FAILED, *EXPIRED_ERROR
    return order.state, order.error_code or None, order.detailed_error_code or None


def attempt_detail(transaction: PhonePeTransaction) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "transactionId": transaction.transaction_id,
        "paymentMode": transaction.payment_mode,
        "timestamp": epoch_ms(transaction.created_at),
        "amount": transaction.amount,
        "payableAmount": transaction.amount,
        "feeAmount": 0,
        "state": transaction.state,
        "rail": {
            "type": "UPI",
            "utr": transaction.utr or None,
            "upiTransactionId": transaction.utr or None,
            "vpa": "sa****@ybl",
        },
        "instrument": {"type": "ACCOUNT", "maskedAccountNumber": "XXXXXXX20000", "accountType": "SAVINGS"},
        "splitInstruments": [
            {"amount": transaction.amount, "rail": {"type": "UPI"}, "instrument": {"type": "ACCOUNT"}}
        ],
    }
    if transaction.state == PhonePeTransaction.State.FAILED:
        detail["errorCode"] = transaction.error_code or None
        detail["detailedErrorCode"] = transaction.detailed_error_code or None
    return detail


def meta_info_out(meta_info: Any) -> dict[str, Any] | None:
    if not meta_info:
        return None
    return {key: value for key, value in meta_info.items() if value is not None}


def order_status(order: PhonePeOrder, *, details: bool, only: PhonePeTransaction | None = None) -> dict[str, Any]:
    """The order-status answer: every attempt with details=true, the latest only otherwise (or just `only`)."""
    if only is not None:
        attempts = [only]
    else:
        attempts = list(order.transactions.order_by("created_at", "pk"))
        if not details:
            attempts = attempts[-1:]
    state, error_code, detailed_error_code = order_state(order)
    return {
        "merchantId": MERCHANT_ID,
        "merchantOrderId": order.merchant_order_id,
        "orderId": order.order_id,
        "state": state,
        "amount": order.amount,
        "payableAmount": order.amount,
        "feeAmount": 0,
        "expireAt": epoch_ms(order.expire_at),
        "metaInfo": meta_info_out(order.meta_info),
        "errorCode": error_code,
        "detailedErrorCode": detailed_error_code,
        "paymentDetails": [attempt_detail(attempt) for attempt in attempts],
    }


def refund_status(refund: PhonePeRefund) -> dict[str, Any]:
    return {
        "merchantId": MERCHANT_ID,
        "merchantRefundId": refund.merchant_refund_id,
        "originalMerchantOrderId": refund.order.merchant_order_id,
        "refundId": refund.refund_id,
        "amount": refund.amount,
        "state": refund.state,
        "timestamp": epoch_ms(refund.updated_at),
        "paymentDetails": [
            {
                "transactionId": refund.refund_id,
                "paymentMode": PAYMENT_MODE,
                "timestamp": epoch_ms(refund.updated_at),
                "amount": refund.amount,
                "state": refund.state,
                "rail": {"type": "UPI"},
                "instrument": {"type": "ACCOUNT"},
            }
        ],
    }


def parse_details(raw: str | None) -> bool:
    """The SDK sends Python's `True`/`False`, the docs `true`/`false`: read it case-insensitively."""
    if raw is None or raw == "":
        return False
    lowered = raw.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise PhonePeApiError("details must be true or false")
