"""PhonePe writes: issue OAuth tokens, create Standard Checkout orders, settle them from the hosted page, refund, and
move refunds PENDING -> CONFIRMED -> COMPLETED | FAILED and expire unpaid orders as jobs of the delivery loop,
sending the callbacks PhonePe sends at each step."""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from sandbox import ids
from sandbox.clock import scaled, schedule
from sandbox.errors import PhonePeApiError
from sandbox.faults import take_fault
from sandbox.models import Fault, Job, PhonePeOrder, PhonePeRefund, PhonePeToken, PhonePeTransaction
from sandbox.phonepe.selectors import EXPIRED_ERROR, is_expired, order_status, refund_status
from sandbox.signing import token_digest
from sandbox.webhooks import OutgoingEvent, emit

GATEWAY = "phonepe"
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,63}$")
UDF_RESTRICTED = re.compile(r"^[a-zA-Z0-9_\- @.+]*$")
MIN_AMOUNT = 100
EXPIRE_AFTER_DEFAULT = 1200
EXPIRE_AFTER_RANGE = (300, 3600)

# The callback for each final order state and each refund state PhonePe reports: (event, type).
ORDER_CALLBACKS = {
    PhonePeOrder.State.COMPLETED: ("checkout.order.completed", "CHECKOUT_ORDER_COMPLETED"),
    PhonePeOrder.State.FAILED: ("checkout.order.failed", "CHECKOUT_ORDER_FAILED"),
}
REFUND_CALLBACKS = {
    PhonePeRefund.State.CONFIRMED: ("pg.refund.accepted", "PG_REFUND_ACCEPTED"),
    PhonePeRefund.State.COMPLETED: ("pg.refund.completed", "PG_REFUND_COMPLETED"),
    PhonePeRefund.State.FAILED: ("pg.refund.failed", "PG_REFUND_FAILED"),
}


def _bad(message: str) -> PhonePeApiError:
    return PhonePeApiError(message, status=400, code="BAD_REQUEST")


# OAuth ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    issued_at: int
    expires_at: int


def issue_token(*, form: Mapping[str, Any]) -> IssuedToken:
    """POST /v1/oauth/token with client credentials. Only the token's digest is stored."""
    client_id = str(form.get("client_id") or "")
    client_secret = str(form.get("client_secret") or "")
    client_version = str(form.get("client_version") or "")
    grant_type = form.get("grant_type")
    expected_id, expected_secret = settings.PHONEPE_CLIENT_ID, settings.PHONEPE_CLIENT_SECRET
    id_ok = hmac.compare_digest(client_id.encode(), expected_id.encode())
    secret_ok = hmac.compare_digest(client_secret.encode(), expected_secret.encode())
    version_ok = client_version == str(settings.PHONEPE_CLIENT_VERSION)
    if not (id_ok and secret_ok and version_ok and grant_type == "client_credentials" and expected_secret):
        raise PhonePeApiError(
            f"Bad Request: Invalid Client, trackingId: {ids.base62(16)}",
            status=400,
            code="INVALID_CLIENT",
            errorCode="OIM000",
            context={"error_description": "Client authentication failure"},
        )
    token = secrets.token_urlsafe(32)
    now = timezone.now().replace(microsecond=0)
    expires = now + timedelta(seconds=int(settings.SANDBOX_PHONEPE_TOKEN_SECONDS))
    PhonePeToken.objects.create(
        token_digest=token_digest(token), client_id=client_id, issued_at=now, expires_at=expires
    )
    return IssuedToken(access_token=token, issued_at=int(now.timestamp()), expires_at=int(expires.timestamp()))


def token_is_valid(*, token: str) -> bool:
    return PhonePeToken.objects.filter(token_digest=token_digest(token), expires_at__gt=timezone.now()).exists()


# Orders --------------------------------------------------------------------------------------------------------


def _object(value: Any, name: str) -> Mapping[str, Any] | None:
    """An optional JSON object: null and absent are the same."""
    if value is None:
        return None
    return _required(value, name)


def _required(value: Any, name: str) -> Mapping[str, Any]:
    if value is None:
        raise _bad(f"{name} is required")
    if not isinstance(value, Mapping):
        raise _bad(f"{name} must be an object")
    return value


def _amount(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad("amount must be an integer number of paise")
    if value < MIN_AMOUNT:
        raise _bad("amount must be at least 100 paise")
    return value


def _identifier(value: Any, name: str) -> str:
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise _bad(f"{name} must be 1-63 characters of letters, digits, _ and -")
    return value


def _meta_info(value: Any) -> dict[str, str] | None:
    meta = _object(value, "metaInfo")
    if meta is None:
        return None
    cleaned: dict[str, str] = {}
    for index in range(1, 16):
        key = f"udf{index}"
        item = meta.get(key)
        if item is None:
            continue
        if not isinstance(item, str):
            raise _bad(f"metaInfo.{key} must be a string")
        if index <= 10 and len(item) > 256:
            raise _bad(f"metaInfo.{key} exceeds maximum allowed size of 256 characters")
        if index > 10 and (len(item) > 50 or not UDF_RESTRICTED.match(item)):
            raise _bad(f"metaInfo.{key} must be at most 50 characters of letters, digits and _ - space @ . +")
        cleaned[key] = item
    return cleaned


def create_order(*, data: Any) -> PhonePeOrder:
    """POST /checkout/v2/pay. Explicit nulls are accepted wherever a field is optional; a merchantOrderId can be
    used once (a unique constraint decides, so two racing requests cannot both create it)."""
    body = _required(data, "body")
    merchant_order_id = _identifier(body.get("merchantOrderId"), "merchantOrderId")
    amount = _amount(body.get("amount"))
    expire_after = body.get("expireAfter")
    if expire_after is None:
        expire_after = EXPIRE_AFTER_DEFAULT
    elif (
        isinstance(expire_after, bool)
        or not isinstance(expire_after, int)
        or not (EXPIRE_AFTER_RANGE[0] <= expire_after <= EXPIRE_AFTER_RANGE[1])
    ):
        raise _bad("expireAfter must be an integer from 300 to 3600 seconds")
    meta_info = _meta_info(body.get("metaInfo"))
    flow = _required(body.get("paymentFlow"), "paymentFlow")
    if flow.get("type") != "PG_CHECKOUT":
        raise _bad("paymentFlow.type must be PG_CHECKOUT")
    message = flow.get("message")
    if message is not None and (not isinstance(message, str) or len(message) > 256):
        raise _bad("paymentFlow.message must be text of at most 256 characters")
    urls = _required(flow.get("merchantUrls"), "paymentFlow.merchantUrls")
    redirect_url = urls.get("redirectUrl")
    if not isinstance(redirect_url, str) or not re.match(r"^https?://[^\s]+$", redirect_url):
        raise _bad("paymentFlow.merchantUrls.redirectUrl must be an http(s) URL")
    _object(flow.get("paymentModeConfig"), "paymentFlow.paymentModeConfig")
    prefill = _object(body.get("prefillUserLoginDetails"), "prefillUserLoginDetails") or {}
    phone_number = prefill.get("phoneNumber") or ""
    if not isinstance(phone_number, str) or len(phone_number) > 20:
        raise _bad("prefillUserLoginDetails.phoneNumber must be a phone number")
    if body.get("disablePaymentRetry") is not None and not isinstance(body.get("disablePaymentRetry"), bool):
        raise _bad("disablePaymentRetry must be true or false")
    now = timezone.now()
    try:
        with transaction.atomic():
            # An order_expiry fault shortens this order's life to the fault's delay_seconds (compressed by
            # SANDBOX_TIME_SCALE), so a test sees expiry and its callback without waiting 5 minutes.
            expiry = take_fault(gateway=GATEWAY, kind=Fault.Kind.ORDER_EXPIRY)
            life = scaled(expiry.delay_seconds or 1) if expiry else timedelta(seconds=expire_after)
            order = PhonePeOrder.objects.create(
                merchant_order_id=merchant_order_id,
                order_id=ids.phonepe_id("OMO"),
                amount=amount,
                meta_info=meta_info,
                message=message or "",
                phone_number=phone_number,
                redirect_url=redirect_url,
                created_at=now,
                expire_at=now + life,
            )
            schedule(kind=Job.Kind.PHONEPE_ORDER_EXPIRY, subject=merchant_order_id, at=order.expire_at)
    except IntegrityError:
        raise PhonePeApiError(
            "An order with this merchantOrderId already exists", status=400, code="ORDER_ALREADY_EXISTS"
        ) from None
    return order


def complete_order(*, merchant_order_id: str, outcome: str) -> PhonePeOrder:
    """The hosted page's Pay ("success") or Fail ("failure"): one attempt on the order, then the callback. Only a
    PENDING, unexpired order can be paid; the state change is a conditional UPDATE under a row lock, and at most one
    COMPLETED attempt per order is a database constraint.

    A failed_attempt fault makes this one attempt fail while the order stays PENDING, as PhonePe lets the customer
    try again inside one order (checkout.transaction.attempt.failed); the next Pay can complete it.
    "pending" is the customer coming back before the payment settles: nothing changes and no callback is sent."""
    if outcome not in ("success", "failure", "pending"):
        raise _bad("outcome must be success, failure or pending")
    with transaction.atomic():
        order = PhonePeOrder.objects.select_for_update().filter(merchant_order_id=merchant_order_id).first()
        if order is None:
            raise PhonePeApiError("No order found", status=404, code="ORDER_NOT_FOUND")
        if order.state != PhonePeOrder.State.PENDING or is_expired(order):
            raise PhonePeApiError("This order can no longer be paid", status=409, code="INVALID_ORDER_STATE")
        if outcome == "pending":
            return order
        if take_fault(gateway=GATEWAY, kind=Fault.Kind.FAILED_ATTEMPT):
            _attempt(order, PhonePeTransaction.State.FAILED)
            _order_callback(order, "checkout.transaction.attempt.failed", "CHECKOUT_TRANSACTION_ATTEMPT_FAILED")
            return order
        success = outcome == "success"
        state = PhonePeOrder.State.COMPLETED if success else PhonePeOrder.State.FAILED
        errors = {} if success else {"error_code": "PAYMENT_ERROR", "detailed_error_code": "ZM"}
        if not PhonePeOrder.objects.filter(pk=order.pk, state=PhonePeOrder.State.PENDING).update(state=state, **errors):
            raise PhonePeApiError("This order can no longer be paid", status=409, code="INVALID_ORDER_STATE")
        _attempt(order, state)
        order.refresh_from_db()
        _order_callback(order, *ORDER_CALLBACKS[state])
    return order


def _attempt(order: PhonePeOrder, state: str) -> PhonePeTransaction:
    success = state == PhonePeTransaction.State.COMPLETED
    return PhonePeTransaction.objects.create(
        transaction_id=ids.phonepe_id("OM"),
        order=order,
        amount=order.amount,
        state=state,
        utr=f"{secrets.randbelow(10**12):012d}" if success else "",
        **({} if success else {"error_code": "PAYMENT_ERROR", "detailed_error_code": "ZM"}),
    )


def _order_callback(order: PhonePeOrder, event: str, callback_type: str) -> None:
    emit(
        gateway=GATEWAY,
        events=[
            OutgoingEvent(
                name=event,
                subject=order.merchant_order_id,
                document={"event": event, "type": callback_type, "payload": order_status(order, details=True)},
            )
        ],
    )


def expire_order(merchant_order_id: str) -> str:
    """expireAfter ran out: an order still unpaid becomes FAILED for good, with PhonePe's checkout.order.failed."""
    with transaction.atomic():
        order = PhonePeOrder.objects.select_for_update().filter(merchant_order_id=merchant_order_id).first()
        if order is None or order.state != PhonePeOrder.State.PENDING:
            return "settled"
        code, detailed = EXPIRED_ERROR
        PhonePeOrder.objects.filter(pk=order.pk, state=PhonePeOrder.State.PENDING).update(
            state=PhonePeOrder.State.FAILED, error_code=code, detailed_error_code=detailed
        )
        order.refresh_from_db()
        _order_callback(order, *ORDER_CALLBACKS[PhonePeOrder.State.FAILED])
    return "expired"


# Refunds -------------------------------------------------------------------------------------------------------


def refund_order(*, data: Any) -> PhonePeRefund:
    """POST /payments/v2/refund: only on a COMPLETED order, and the refunds of an order never add up to more than
    it (a conditional UPDATE on the order's refunded total). A merchantRefundId can be used once."""
    body = _required(data, "body")
    merchant_refund_id = _identifier(body.get("merchantRefundId"), "merchantRefundId")
    merchant_order_id = _identifier(body.get("originalMerchantOrderId"), "originalMerchantOrderId")
    amount = _amount(body.get("amount"))
    try:
        with transaction.atomic():
            order = PhonePeOrder.objects.select_for_update().filter(merchant_order_id=merchant_order_id).first()
            if order is None:
                raise PhonePeApiError("No order found", status=404, code="ORDER_NOT_FOUND")
            if PhonePeRefund.objects.filter(merchant_refund_id=merchant_refund_id).exists():
                raise _duplicate_refund_id()
            if order.state != PhonePeOrder.State.COMPLETED:
                raise _bad("Only a completed order can be refunded")
            if amount > order.amount - order.amount_refunded:
                raise _bad("Refund amount is more than the refundable amount of the order")
            if not PhonePeOrder.objects.filter(pk=order.pk, amount_refunded=order.amount_refunded).update(
                amount_refunded=order.amount_refunded + amount
            ):
                raise PhonePeApiError("The order changed while refunding; retry", status=409, code="CONFLICT")
            refund = PhonePeRefund.objects.create(
                merchant_refund_id=merchant_refund_id,
                refund_id=ids.phonepe_id("OMR"),
                order=order,
                amount=amount,
                # Taken inside this transaction: a refused or rolled-back refund gives the use back.
                settles_failed=take_fault(gateway=GATEWAY, kind=Fault.Kind.REFUND_FAILURE) is not None,
            )
            _schedule_refund_step(refund)
    except IntegrityError:
        # Two racing requests with one merchantRefundId: the unique constraint lets only one through.
        raise _duplicate_refund_id() from None
    return refund


def _duplicate_refund_id() -> PhonePeApiError:
    return PhonePeApiError("A refund with this merchantRefundId already exists", status=400, code="DUPLICATE_REFUND_ID")


def _schedule_refund_step(refund: PhonePeRefund) -> None:
    schedule(
        kind=Job.Kind.PHONEPE_REFUND_STEP,
        subject=refund.merchant_refund_id,
        after=scaled(float(settings.SANDBOX_REFUND_SETTLE_SECONDS)),
    )


def _next_refund_state(refund: PhonePeRefund) -> PhonePeRefund.State | None:
    """PENDING -> CONFIRMED -> COMPLETED, or -> FAILED for a refund created under a refund_failure fault."""
    if refund.state == PhonePeRefund.State.PENDING:
        return PhonePeRefund.State.CONFIRMED
    if refund.state == PhonePeRefund.State.CONFIRMED:
        return PhonePeRefund.State.FAILED if refund.settles_failed else PhonePeRefund.State.COMPLETED
    return None


def advance_refund(merchant_refund_id: str) -> str:
    """One step of a refund's life: PENDING -> CONFIRMED (pg.refund.accepted), then CONFIRMED -> COMPLETED
    (pg.refund.completed) or, under a refund_failure fault, CONFIRMED -> FAILED (pg.refund.failed), which gives the
    amount back to the order's refundable total. Each step is a conditional UPDATE, so a task run twice moves the
    refund once."""
    refund = PhonePeRefund.objects.filter(merchant_refund_id=merchant_refund_id).first()
    if refund is None or _next_refund_state(refund) is None:
        return "final"
    with transaction.atomic():
        if refund.settles_failed:
            # The order row is locked before the refund moves, in the order refund_order takes them.
            PhonePeOrder.objects.select_for_update().filter(pk=refund.order_id).first()
        source = refund.state
        target = _next_refund_state(refund)
        if not PhonePeRefund.objects.filter(pk=refund.pk, state=source).update(state=target, updated_at=timezone.now()):
            return "moved elsewhere"
        if target == PhonePeRefund.State.FAILED:
            # The refund was inside amount_refunded since it was accepted; the column's non-negative check backs that.
            PhonePeOrder.objects.filter(pk=refund.order_id).update(amount_refunded=F("amount_refunded") - refund.amount)
        refund = PhonePeRefund.objects.select_related("order").get(pk=refund.pk)
        event, callback_type = REFUND_CALLBACKS[target]
        emit(
            gateway=GATEWAY,
            events=[
                OutgoingEvent(
                    name=event,
                    subject=refund.merchant_refund_id,
                    document={"event": event, "type": callback_type, "payload": refund_status(refund)},
                )
            ],
        )
        if _next_refund_state(refund) is not None:
            _schedule_refund_step(refund)
    return str(target)
