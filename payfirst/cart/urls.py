"""Cart endpoints, mounted at /api/cart/ (API.md, Cart)."""

from django.urls import path

from payfirst.cart.apis import CartAddApi, CartApi, CartItemApi, CartPromoApi

urlpatterns = [
    path("", CartApi.as_view(), name="cart"),
    path("add/", CartAddApi.as_view(), name="cart-add"),
    path("items/<int:item_id>/", CartItemApi.as_view(), name="cart-item"),
    path("promo/", CartPromoApi.as_view(), name="cart-promo"),
]
