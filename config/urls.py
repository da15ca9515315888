"""Top-level URL map: each app owns its own urls module."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from payfirst.core import health
from payfirst.core.throttling import throttle_admin_login

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("admin/dashboard/", include("payfirst.dashboard.urls")),  # before the admin, which would 404 it
    # The admin's own sign-in page, rate-limited per address and per account before the admin's routes see it.
    path("admin/login/", throttle_admin_login(admin.site.login), name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/auth/", include("payfirst.accounts.urls")),
    path("api/catalog/", include("payfirst.catalog.urls")),
    path("api/cart/", include("payfirst.cart.urls")),
    path("api/payments/", include("payfirst.payments.urls")),
    path("api/invoices/", include("payfirst.invoices.urls")),
    path("api/", include("payfirst.payments.customer_urls")),
    path("api/", include("payfirst.fulfilment.urls")),
]

# The storefront last: a client of the API above, at the site root.
urlpatterns.append(path("", include("payfirst.storefront.urls")))

handler400 = "payfirst.core.api.bad_request_view"
handler403 = "payfirst.core.api.permission_denied_view"
handler404 = "payfirst.core.api.not_found_view"
handler500 = "payfirst.core.api.server_error_view"
