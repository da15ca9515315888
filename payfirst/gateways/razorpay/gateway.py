"""RazorpayGateway: the Gateway Protocol over Razorpay's Orders, Payments and Refunds APIs, joining sdk.py (calls),
signature.py (verification) and mapping.py (payloads). Settings are read when the adapter is built, per call."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings

from payfirst.core.money import CURRENCY, Paise
from payfirst.gateways.base import (
    AttemptStatus,
    GatewayAttempt,
    GatewayEvent,
    GatewayOrder,
    GatewayPayment,
    GatewayRefund,
    GatewayRejected,
)
from payfirst.gateways.razorpay import mapping, signature
from payfirst.gateways.razorpay.sdk import RazorpayApi

logger = logging.getLogger(__name__)

_REFUND_PAGE = 100  # Razorpay's largest page for a payment's refunds


@dataclass(frozen=True)
class RazorpayConfig:
    """Everything the adapter needs. Secrets stay out of repr() so a logged config or traceback never shows them."""

    key_id: str
    key_secret: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    api_base: str
    timeout_seconds: float
    merchant_name: str
    is_sandbox: bool

    @classmethod
    def from_settings(cls) -> RazorpayConfig:
        return cls(
            key_id=settings.RAZORPAY_KEY_ID,
            key_secret=settings.RAZORPAY_KEY_SECRET,
            webhook_secret=settings.RAZORPAY_WEBHOOK_SECRET,
            api_base=settings.RAZORPAY_API_BASE,
            timeout_seconds=float(settings.GATEWAY_TIMEOUT_SECONDS),
            merchant_name=settings.PAYFIRST_MERCHANT_NAME,
            is_sandbox=settings.PAYFIRST_GATEWAYS == "sandbox",
        )


_adapters = threading.local()
_ADAPTERS_PER_THREAD = 8  # one per set of settings; only tests change them while running


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup: Django's request.headers is, a plain dict from a test or a task is not."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


class RazorpayGateway:
    name = "razorpay"

    def __init__(self, config: RazorpayConfig) -> None:
        self.config = config
        self.api = RazorpayApi(
            key_id=config.key_id,
            key_secret=config.key_secret,
            base_url=config.api_base,
            timeout_seconds=config.timeout_seconds,
        )

    @classmethod
    def from_settings(cls) -> RazorpayGateway:
        """The adapter for the settings as they are now: this thread's, kept while the settings stay the same (its SDK
        client holds this thread's pooled session, so it is not shared between threads)."""
        config = RazorpayConfig.from_settings()
        built: dict[RazorpayConfig, RazorpayGateway] | None = getattr(_adapters, "by_config", None)
        if built is None or len(built) >= _ADAPTERS_PER_THREAD:
            built = _adapters.by_config = {}
        adapter = built.get(config)
        if adapter is None:
            adapter = built[config] = cls(config)
        return adapter

    def create_order(
        self,
        *,
        reference: str,
        amount: Paise,
        redirect_url: str | None,
        customer: Mapping[str, str],
        description: str,
        first_opening: bool = False,
    ) -> GatewayOrder:
        """Open (or find again) the Razorpay order for `reference`. Razorpay does not enforce unique receipts, so an
        order already carrying our reference as its receipt, for this amount, is reused: a retry after a lost answer
        never opens a second order. On a first opening there is nothing to find, and the look (a second call to the
        gateway) is skipped."""
        # redirect_url is where Checkout's redirect mode form-POSTs its result (Checkout.js `callback_url`); the
        # default (handler) mode ignores it and hands the result to the page.
        earlier = None if first_opening else self._order_by_receipt(reference, amount=amount)
        entity = earlier or self.api.create_order(
            {
                "amount": amount.value,
                "currency": CURRENCY,
                "receipt": reference,
                "notes": _order_notes(reference=reference, customer=customer, description=description),
            }
        )
        order_id = str(entity.get("id") or "")
        checkout: dict[str, Any] = {
            "key": self.config.key_id,  # the name Checkout.js reads
            "key_id": self.config.key_id,
            "order_id": order_id,
            "amount": entity.get("amount", amount.value),
            "currency": entity.get("currency", CURRENCY),
            "name": self.config.merchant_name,
            "description": description,
            "prefill": {
                "name": customer.get("name", ""),
                "email": customer.get("email", ""),
                "contact": customer.get("contact", ""),
            },
        }
        if redirect_url:
            checkout["callback_url"] = redirect_url
        if self.config.is_sandbox:
            # The sandbox serves its hosted page beside its API, as Checkout stands beside Razorpay's API.
            checkout["sandbox_checkout_url"] = f"{self.config.api_base.rstrip('/')}/checkout/{order_id}/"
        order = mapping.order_from(entity, checkout=checkout)
        if order.amount != amount or order.currency != CURRENCY:
            raise GatewayRejected(
                f"Razorpay order {order.gateway_order_id} came back for {order.amount.value} {order.currency}, "
                f"not {amount.value} {CURRENCY}."
            )
        logger.info("razorpay order created", extra={"reference": reference, "gateway_order_id": order_id})
        return order

    def _order_by_receipt(self, reference: str, *, amount: Paise) -> dict[str, Any] | None:
        orders = self.api.orders_with_receipt(reference).get("items")
        if not isinstance(orders, list):
            raise GatewayRejected("Razorpay listed orders without an items list.")
        for entity in orders:  # newest first
            if (
                isinstance(entity, dict)
                and entity.get("receipt") == reference
                and entity.get("amount") == amount.value
                and entity.get("currency") == CURRENCY
            ):
                return entity
        return None

    def fetch_payment(self, *, gateway_order_id: str) -> GatewayPayment:
        """The order's money, from its payments list: read-only (an `authorized` attempt is reported, never captured
        here; capturing is `capture`, an explicit step). Every attempt is listed."""
        attempts = self.api.order_payments(gateway_order_id).get("items")
        if not isinstance(attempts, list):
            raise GatewayRejected(f"Razorpay listed the payments of {gateway_order_id} without an items list.")
        entities = [entity for entity in attempts if isinstance(entity, Mapping)]
        best = mapping.best_attempt(entities)
        if best is None:
            return mapping.unpaid_order_from(self.api.fetch_order(gateway_order_id))
        payment = mapping.payment_from(best, others=entities)
        if payment.gateway_order_id != gateway_order_id or any(
            entity.get("order_id") != gateway_order_id for entity in entities
        ):
            raise GatewayRejected(f"Razorpay listed a payment of another order under {gateway_order_id}.")
        return payment

    def capture(self, *, gateway_order_id: str, gateway_payment_id: str, amount: Paise) -> GatewayAttempt:
        """Capture an authorized payment for exactly `amount`. Razorpay refuses a second capture; when it does, the
        payment's own state settles it (someone else — the dashboard, another worker — captured it first)."""
        try:
            entity = self.api.capture(gateway_payment_id, amount=amount.value, currency=CURRENCY)
        except GatewayRejected:
            current = self.api.fetch_payment(gateway_payment_id)
            if mapping.payment_status(current) is not AttemptStatus.CAPTURED:
                raise
            entity = current
        attempt = mapping.attempt_from(entity)
        if entity.get("order_id") != gateway_order_id:
            raise GatewayRejected(f"Razorpay payment {gateway_payment_id} is not on order {gateway_order_id}.")
        if attempt.status is not AttemptStatus.CAPTURED or attempt.amount != amount:
            raise GatewayRejected(
                f"Razorpay answered the capture of {gateway_payment_id} with {attempt.status} for "
                f"{attempt.amount.value}, not captured for {amount.value}."
            )
        logger.info(
            "razorpay payment captured",
            extra={"gateway_order_id": gateway_order_id, "gateway_payment_id": gateway_payment_id},
        )
        return attempt

    def list_refunds(self, *, gateway_order_id: str, gateway_payment_id: str) -> list[GatewayRefund] | None:
        """Every refund of the payment, made by payfirst or in the Dashboard (those reach us nowhere else)."""
        found: list[GatewayRefund] = []
        skip = 0
        while True:
            page = self.api.payment_refunds(gateway_payment_id, count=_REFUND_PAGE, skip=skip).get("items")
            if not isinstance(page, list):
                raise GatewayRejected(f"Razorpay listed the refunds of {gateway_payment_id} without an items list.")
            found += [mapping.refund_from(entity) for entity in page if isinstance(entity, Mapping)]
            if len(page) < _REFUND_PAGE:
                return found
            skip += len(page)

    def verify_client_signature(self, *, fields: Mapping[str, str]) -> None:
        signature.verify_checkout_signature(
            key_secret=self.config.key_secret,
            order_id=str(fields.get("razorpay_order_id") or ""),
            payment_id=str(fields.get("razorpay_payment_id") or ""),
            signature=fields.get("razorpay_signature"),
        )

    def parse_webhook(self, *, headers: Mapping[str, str], body: bytes) -> GatewayEvent:
        signature.verify_webhook_signature(
            webhook_secret=self.config.webhook_secret, body=body, signature=_header(headers, "X-Razorpay-Signature")
        )
        try:
            envelope = json.loads(bytes(body).decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise GatewayRejected("Razorpay webhook body is not UTF-8 JSON.") from None
        # Razorpay sends X-Razorpay-Event-Id on every delivery (retries keep it). Should it ever be absent, the
        # digest of the signed bytes still makes an identical redelivery a duplicate.
        event_id = _header(headers, "X-Razorpay-Event-Id") or f"sha256:{hashlib.sha256(body).hexdigest()}"
        return mapping.event_from(envelope, event_id=event_id)

    def refund(self, *, gateway_order_id: str, gateway_payment_id: str, amount: Paise, reference: str) -> GatewayRefund:
        """Refund under our `reference` (sent as the receipt). A refund already carrying that receipt is returned
        instead of making a second one, so a retry after a lost answer never refunds twice."""
        existing = self._refund_by_receipt(gateway_payment_id, reference)
        if existing is not None:
            return self._same_refund(existing, amount=amount, reference=reference)
        entity = self.api.refund(
            gateway_payment_id,
            {"amount": amount.value, "receipt": reference, "speed": "normal", "notes": {"reference": reference}},
            idempotency_key=reference,
        )
        refund = mapping.refund_from(entity)
        logger.info(
            "razorpay refund created",
            extra={
                "reference": reference,
                "gateway_payment_id": gateway_payment_id,
                "gateway_refund_id": refund.gateway_refund_id,
            },
        )
        return self._same_refund(refund, amount=amount, reference=reference)

    def fetch_refund(self, *, gateway_payment_id: str, gateway_refund_id: str, reference: str) -> GatewayRefund:
        if gateway_refund_id:
            return mapping.refund_from(self.api.fetch_refund(gateway_refund_id))
        found = self._refund_by_receipt(gateway_payment_id, reference)
        if found is None:
            raise GatewayRejected(f"Razorpay has no refund with receipt {reference!r} on {gateway_payment_id}.")
        return found

    def _refund_by_receipt(self, gateway_payment_id: str, reference: str) -> GatewayRefund | None:
        skip = 0
        while True:
            page = self.api.payment_refunds(gateway_payment_id, count=_REFUND_PAGE, skip=skip).get("items")
            if not isinstance(page, list):
                raise GatewayRejected(f"Razorpay listed the refunds of {gateway_payment_id} without an items list.")
            for entity in page:
                if isinstance(entity, Mapping) and entity.get("receipt") == reference:
                    return mapping.refund_from(entity)
            if len(page) < _REFUND_PAGE:
                return None
            skip += len(page)

    @staticmethod
    def _same_refund(refund: GatewayRefund, *, amount: Paise, reference: str) -> GatewayRefund:
        if refund.amount != amount:
            raise GatewayRejected(
                f"Razorpay refund {refund.gateway_refund_id} for receipt {reference!r} is for {refund.amount.value}, "
                f"not {amount.value}."
            )
        if refund.reference != reference:
            return replace(refund, reference=reference)
        return refund


def _order_notes(*, reference: str, customer: Mapping[str, str], description: str) -> dict[str, str]:
    """The order's notes: our reference, what is bought and whom for, as the Dashboard (and the sandbox's hosted page)
    shows them. Razorpay takes at most 15 notes of at most 256 characters each; empty values are left out."""
    notes = {
        "reference": reference,
        "description": description,
        "customer_name": customer.get("name", ""),
        "customer_email": customer.get("email", ""),
        "customer_contact": customer.get("contact", ""),
    }
    return {key: value[:256] for key, value in notes.items() if value}
