"""The sandbox server's URLs: everything below /sandbox/ (the paths payfirst's docs list), and /healthz."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from sandbox import control, fault_apis
from sandbox.phonepe import apis as phonepe_apis
from sandbox.razorpay import apis as razorpay_apis

_rzp = "razorpay/v1/"
_pp = "phonepe/"

sandbox_patterns = [
    path("faults/", fault_apis.FaultsApi.as_view(), name="faults"),
    path("control/deliveries/", control.DeliveriesApi.as_view(), name="deliveries"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("control/reset/", control.ResetApi.as_view(), name="reset"),
    path("control/jobs/", control.JobsApi.as_view(), name="jobs"),
    path("control/endpoints/", control.EndpointsApi.as_view(), name="endpoints"),
    path("control/trigger/", control.TriggerApi.as_view(), name="trigger"),
    # Razorpay: the SDK joins base_url + "/v1/..." with no trailing slash.
    path(f"{_rzp}orders", razorpay_apis.RazorpayOrdersApi.as_view(), name="razorpay-orders"),
    path(f"{_rzp}orders/<str:order_id>", razorpay_apis.RazorpayOrderApi.as_view(), name="razorpay-order"),
    path(
        f"{_rzp}orders/<str:order_id>/payments",
        razorpay_apis.RazorpayOrderPaymentsApi.as_view(),
        name="razorpay-order-payments",
    ),
    path(f"{_rzp}payments/<str:payment_id>", razorpay_apis.RazorpayPaymentApi.as_view(), name="razorpay-payment"),
    path(
        f"{_rzp}payments/<str:payment_id>/capture",
        razorpay_apis.RazorpayPaymentCaptureApi.as_view(),
        name="razorpay-payment-capture",
    ),
    path(
        f"{_rzp}payments/<str:payment_id>/refund",
        razorpay_apis.RazorpayPaymentRefundApi.as_view(),
        name="razorpay-payment-refund",
    ),
    path(
        f"{_rzp}payments/<str:payment_id>/refunds",
        razorpay_apis.RazorpayPaymentRefundsApi.as_view(),
        name="razorpay-payment-refunds",
    ),
    path(
        f"{_rzp}payments/<str:payment_id>/refunds/<str:refund_id>",
        razorpay_apis.RazorpayPaymentRefundDetailApi.as_view(),
        name="razorpay-payment-refund-detail",
    ),
    path(f"{_rzp}refunds/<str:refund_id>", razorpay_apis.RazorpayRefundApi.as_view(), name="razorpay-refund"),
    re_path(r"^razorpay/v1/.*$", razorpay_apis.RazorpayUnknownPathApi.as_view(), name="razorpay-unknown"),
    path("razorpay/checkout/<str:order_id>/", razorpay_apis.razorpay_checkout_page, name="razorpay-checkout"),
    path(
        "razorpay/checkout/<str:order_id>/pay",
        razorpay_apis.RazorpayCheckoutPayApi.as_view(),
        name="razorpay-checkout-pay",
    ),
    # PhonePe: PhonePe's own paths below the prefix; the SDK's PG and OAuth base URLs both point here.
    path(f"{_pp}v1/oauth/token", phonepe_apis.PhonePeTokenApi.as_view(), name="phonepe-token"),
    path(f"{_pp}checkout/v2/pay", phonepe_apis.PhonePePayApi.as_view(), name="phonepe-pay"),
    path(
        f"{_pp}checkout/v2/order/<str:merchant_order_id>/status",
        phonepe_apis.PhonePeOrderStatusApi.as_view(),
        name="phonepe-order-status",
    ),
    path(
        f"{_pp}checkout/v2/transaction/<str:transaction_id>/status",
        phonepe_apis.PhonePeTransactionStatusApi.as_view(),
        name="phonepe-transaction-status",
    ),
    path(f"{_pp}payments/v2/refund", phonepe_apis.PhonePeRefundApi.as_view(), name="phonepe-refund"),
    path(
        f"{_pp}payments/v2/refund/<str:merchant_refund_id>/status",
        phonepe_apis.PhonePeRefundStatusApi.as_view(),
        name="phonepe-refund-status",
    ),
    path(f"{_pp}pay/<str:merchant_order_id>/", phonepe_apis.phonepe_pay_page, name="phonepe-pay-page"),
    path(
        f"{_pp}pay/<str:merchant_order_id>/complete",
        phonepe_apis.PhonePePayCompleteApi.as_view(),
        name="phonepe-pay-complete",
    ),
]

urlpatterns = [
    path("healthz", control.healthz, name="healthz"),
    path("sandbox/", include((sandbox_patterns, "sandbox"))),
]
