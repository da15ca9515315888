"""Errors of the payments API, each with its stable code and HTTP status (rendered by core.api's handler)."""

from __future__ import annotations

from payfirst.core.errors import AppError


class CartEmpty(AppError):
    code, status, message = "cart_empty", 400, "Your cart is empty. Add something to it first."


class ShippingAddressRequired(AppError):
    code, status, message = "shipping_address_required", 400, "Your cart has products: choose a shipping address."


class InvalidRedirectUrl(AppError):
    code, status, message = (
        "invalid_redirect_url",
        400,
        "redirect_url must be under FRONTEND_BASE_URL or one of the allowed origins.",
    )


class NothingToPay(AppError):
    code, status, message = "amount_not_payable", 400, "This cart comes to nothing to pay, so no payment can be made."


class PaymentInProgress(AppError):
    code, status, message = (
        "payment_in_progress",
        409,
        "A payment for this cart is being opened with the gateway right now; try again in a few seconds.",
    )


class InvalidSignature(AppError):
    code, status, message = "invalid_signature", 400, "The signature does not match."


class IdempotencyKeyReused(AppError):
    code, status, message = (
        "idempotency_key_reused",
        422,
        "This Idempotency-Key was already used with a different request body.",
    )


class IdempotencyKeyInUse(AppError):
    code, status, message = (
        "idempotency_key_in_use",
        409,
        "A request with this Idempotency-Key is still being processed; retry when it has finished.",
    )


class RefundExceedsCaptured(AppError):
    code, status, message = (
        "refund_exceeds_captured",
        400,
        "The refunds would add up to more than was captured.",
    )


class InvalidAmount(AppError):
    code, status, message = (
        "invalid_amount",
        400,
        "The gateways refund at least 100 paise.",
    )
