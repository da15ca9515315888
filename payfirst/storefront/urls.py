"""Storefront routes, mounted at the site root after every API path."""

from django.urls import path

from payfirst.storefront import views

urlpatterns = [
    path("", views.page("catalog"), name="store-catalog"),
    path("products/<int:product_id>/", views.page("product"), name="store-product"),
    path("services/<int:service_id>/", views.page("service"), name="store-service"),
    path("cart/", views.page("cart"), name="store-cart"),
    path("checkout/", views.page("checkout"), name="store-checkout"),
    # The return page of both gateways (the seeds' front ends call it /confirmbooking).
    path("confirmbooking", views.page("confirm"), name="store-confirm"),
    path("confirmbooking/", views.page("confirm")),
    path("signin/", views.page("signin"), name="store-signin"),
    path("register/", views.page("register"), name="store-register"),
    path("password-reset/", views.page("password_reset"), name="store-password-reset"),
    path("password-reset/confirm/", views.page("password_reset_confirm"), name="store-password-reset-confirm"),
    path("account/", views.page("account"), name="store-account"),
    path("account/addresses/", views.page("addresses"), name="store-addresses"),
    path("session/", views.session, name="store-session"),
    path("session/refresh/", views.session_refresh, name="store-session-refresh"),
]
