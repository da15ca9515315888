"""Cart endpoints, mounted at /api/cart/ (API.md, Cart)."""

from django.urls import path

from payfirst.cart.apis import CartAddApi, CartApi, CartItemApi, CartPromoApi
from payfirst.cart.seed_apis import SeedCartDetailApi, SeedCartListCreateApi

urlpatterns = [
    path("", CartApi.as_view(), name="cart"),
    path("add/", CartAddApi.as_view(), name="cart-add"),
    path("items/<int:item_id>/", CartItemApi.as_view(), name="cart-item"),
    path("promo/", CartPromoApi.as_view(), name="cart-promo"),
    # Seed 002's names for the same cart (API.md, "Seed-compatible endpoints and fields").
    path("carts/", SeedCartListCreateApi.as_view(), name="cart-carts"),
    path("carts/<str:cart_id>/", SeedCartDetailApi.as_view(), name="cart-carts-detail"),
]
