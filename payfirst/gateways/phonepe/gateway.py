"""PhonePeGateway: the Gateway Protocol over PhonePe Standard Checkout v2, joining sdk.py (our REST client),
signature.py (callback authentication) and mapping.py (payloads). Settings are read when the adapter is built."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx
from django.conf import settings

from payfirst.core.money import CURRENCY, Paise
from payfirst.gateways.base import (
    GatewayAttempt,
    GatewayEvent,
    GatewayOrder,
    GatewayPayment,
    GatewayRefund,
    GatewayRejected,
)
from payfirst.gateways.phonepe import mapping, signature
from payfirst.gateways.phonepe.sdk import PhonePeApi, TokenCache

logger = logging.getLogger(__name__)

# PhonePe accepts expireAfter between 5 minutes and an hour.
EXPIRE_AFTER_MIN_SECONDS = 300
EXPIRE_AFTER_MAX_SECONDS = 3600


@dataclass(frozen=True)
class PhonePeConfig:
    """Everything the adapter needs. Secrets stay out of repr() so a logged config or traceback never shows them."""

    client_id: str
    client_secret: str = field(repr=False)
    client_version: int
    api_base: str
    oauth_base: str
    webhook_username: str = field(repr=False)
    webhook_password: str = field(repr=False)
    timeout_seconds: float
    expiry_minutes: int

    @classmethod
    def from_settings(cls) -> PhonePeConfig:
        return cls(
            client_id=settings.PHONEPE_CLIENT_ID,
            client_secret=settings.PHONEPE_CLIENT_SECRET,
            client_version=int(settings.PHONEPE_CLIENT_VERSION),
            api_base=settings.PHONEPE_API_BASE,
            oauth_base=settings.PHONEPE_OAUTH_BASE,
            webhook_username=settings.PHONEPE_WEBHOOK_USERNAME,
            webhook_password=settings.PHONEPE_WEBHOOK_PASSWORD,
            timeout_seconds=float(settings.GATEWAY_TIMEOUT_SECONDS),
            expiry_minutes=int(settings.PAYMENT_EXPIRY_MINUTES),
        )

    @property
    def expire_after_seconds(self) -> int:
        return min(max(self.expiry_minutes * 60, EXPIRE_AFTER_MIN_SECONDS), EXPIRE_AFTER_MAX_SECONDS)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


class PhonePeGateway:
    name = "phonepe"

    def __init__(
        self, config: PhonePeConfig, *, http: httpx.Client | None = None, tokens: TokenCache | None = None
    ) -> None:
        self.config = config
        self.api = PhonePeApi(
            client_id=config.client_id,
            client_secret=config.client_secret,
            client_version=config.client_version,
            api_base=config.api_base,
            oauth_base=config.oauth_base,
            timeout_seconds=config.timeout_seconds,
            http=http,
            tokens=tokens,
        )

    @classmethod
    def from_settings(cls) -> PhonePeGateway:
        return cls(PhonePeConfig.from_settings())

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
        """Open a Standard Checkout order whose merchantOrderId is our reference; PhonePe refuses a second order
        with the same merchantOrderId, so one reference can never become two orders."""
        if not redirect_url:
            raise GatewayRejected("PhonePe needs a redirect_url: it sends the customer's browser there after paying.")
        body = {
            "merchantOrderId": reference,
            "amount": amount.value,
            "expireAfter": self.config.expire_after_seconds,
            "metaInfo": {"udf1": reference},
            "paymentFlow": {
                "type": "PG_CHECKOUT",
                "message": description[:256],
                "merchantUrls": {"redirectUrl": redirect_url},
            },
        }
        answer = self.api.pay(body)
        checkout_url = answer.get("redirectUrl")
        if not isinstance(checkout_url, str) or not checkout_url:
            raise GatewayRejected(f"PhonePe accepted order {reference} but sent no redirectUrl.")
        logger.info("phonepe order created", extra={"reference": reference, "phonepe_order_id": answer.get("orderId")})
        return GatewayOrder(
            gateway_order_id=reference,
            amount=amount,
            currency=CURRENCY,
            checkout={"redirect_url": checkout_url},
            raw=dict(answer),
        )

    def fetch_payment(self, *, gateway_order_id: str) -> GatewayPayment:
        return mapping.payment_from(self.api.order_status(gateway_order_id), merchant_order_id=gateway_order_id)

    def capture(self, *, gateway_order_id: str, gateway_payment_id: str, amount: Paise) -> GatewayAttempt:
        raise GatewayRejected("PhonePe captures a completed payment itself; there is no capture step to take.")

    def list_refunds(self, *, gateway_order_id: str, gateway_payment_id: str) -> list[GatewayRefund] | None:
        """PhonePe has no API listing an order's refunds: its refund callbacks (and the status of each refund id
        they name) are how a refund made in its dashboard reaches payfirst."""
        return None

    def verify_client_signature(self, *, fields: Mapping[str, str]) -> None:
        raise GatewayRejected(
            "PhonePe has no client-side signature: confirm is Razorpay-only. PhonePe payments are confirmed by "
            "asking its order-status API (redirect, callback or reconciliation)."
        )

    def parse_webhook(self, *, headers: Mapping[str, str], body: bytes) -> GatewayEvent:
        signature.verify_callback(
            username=self.config.webhook_username,
            password=self.config.webhook_password,
            authorization=_header(headers, "Authorization"),
        )
        try:
            document = json.loads(bytes(body).decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise GatewayRejected("PhonePe callback body is not UTF-8 JSON.") from None
        return mapping.event_from(document, body=bytes(body))

    def refund(self, *, gateway_order_id: str, gateway_payment_id: str, amount: Paise, reference: str) -> GatewayRefund:
        """Refund under merchantRefundId = our reference. PhonePe deduplicates on it; should it refuse a repeat, the
        refund already made under that id is the answer (when it is for the same amount)."""
        body = {"merchantRefundId": reference, "amount": amount.value, "originalMerchantOrderId": gateway_order_id}
        try:
            answer = self.api.refund(body)
        except GatewayRejected as refused:
            try:
                existing = self.fetch_refund(
                    gateway_payment_id=gateway_payment_id, gateway_refund_id=reference, reference=reference
                )
            except GatewayRejected:
                raise refused from None
            if existing.amount != amount:
                raise refused from None
            return existing
        refund = mapping.refund_from(answer, merchant_refund_id=reference)
        if refund.amount != amount:
            raise GatewayRejected(
                f"PhonePe refund {reference} came back for {refund.amount.value}, not {amount.value}."
            )
        logger.info(
            "phonepe refund created", extra={"reference": reference, "phonepe_refund_id": answer.get("refundId")}
        )
        return refund

    def fetch_refund(self, *, gateway_payment_id: str, gateway_refund_id: str, reference: str) -> GatewayRefund:
        merchant_refund_id = gateway_refund_id or reference
        return mapping.refund_from(self.api.refund_status(merchant_refund_id), merchant_refund_id=merchant_refund_id)
