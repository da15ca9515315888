"""Catalog routes, mounted at /api/catalog/."""

from django.urls import path

from payfirst.catalog.apis import (
    PlanListApi,
    ProductDetailApi,
    ProductListApi,
    ServiceAvailabilityApi,
    ServiceListApi,
    ServiceSlotListApi,
)

urlpatterns = [
    path("products/", ProductListApi.as_view(), name="catalog-product-list"),
    path("products/<int:product_id>/", ProductDetailApi.as_view(), name="catalog-product-detail"),
    path("services/", ServiceListApi.as_view(), name="catalog-service-list"),
    path("services/<int:service_id>/slots/", ServiceSlotListApi.as_view(), name="catalog-service-slots"),
    path(
        "services/<int:service_id>/availability/", ServiceAvailabilityApi.as_view(), name="catalog-service-availability"
    ),
    path("plans/", PlanListApi.as_view(), name="catalog-plan-list"),
]
