"""Routes under /api/payments/ (API.md, Payments)."""

from django.urls import path

from payfirst.payments import apis, refund_apis, seed_apis

urlpatterns = [
    path("", apis.PaymentListApi.as_view(), name="payments-list"),
    path("create-from-cart/", apis.PaymentCreateApi.as_view(), name="payments-create-from-cart"),
    path("confirm-razorpay/", apis.PaymentConfirmRazorpayApi.as_view(), name="payments-confirm-razorpay"),
    path("cart/status/<str:cart_id>/", apis.CartPaymentStatusApi.as_view(), name="payments-cart-status"),
    path("redirect/phonepe/", apis.PhonePeRedirectApi.as_view(), name="payments-redirect-phonepe"),
    path("webhook/razorpay/", apis.RazorpayWebhookApi.as_view(), name="payments-webhook-razorpay"),
    path("webhook/phonepe/", apis.PhonePeWebhookApi.as_view(), name="payments-webhook-phonepe"),
    # Seed 002's and 004's names (API.md, "Seed-compatible endpoints and fields"): before the `<payment_id>` routes,
    # which would otherwise take "cart" and "process-cart" for payment ids.
    path("cart/", seed_apis.SeedCartPaymentApi.as_view(), name="payments-cart"),
    path("process-cart/", seed_apis.SeedProcessCartApi.as_view(), name="payments-process-cart"),
    path("status/<str:merchant_order_id>/", seed_apis.SeedPaymentStatusApi.as_view(), name="payments-status"),
    path("<str:payment_id>/", apis.PaymentDetailApi.as_view(), name="payments-detail"),
    path("<str:payment_id>/cancel/", apis.PaymentCancelApi.as_view(), name="payments-cancel"),
    path("<str:payment_id>/check-booking/", apis.PaymentCheckBookingApi.as_view(), name="payments-check-booking"),
    path("<str:payment_id>/refunds/", refund_apis.PaymentRefundListCreateApi.as_view(), name="payments-refunds"),
]
