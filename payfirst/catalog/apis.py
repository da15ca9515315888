"""The public, read-only catalog API: products, services with packages and slots, plans.

No authentication runs here at all (`authentication_classes = []`), so a stale or malformed Authorization
header sent by a signed-in front end never turns a public catalog page into a 401.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page as DjangoPage
from django.core.paginator import Paginator as DjangoPaginator
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payfirst.catalog.models import Plan, Product, Service, ServiceType, Slot, Variant
from payfirst.catalog.product_page import product_page
from payfirst.catalog.selectors import (
    plan_list,
    product_get,
    product_list,
    service_availability,
    service_get,
    service_list,
    slot_list,
)
from payfirst.core.api import PagePagination
from payfirst.core.fields import HourMinuteField


class CatalogErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="snake_case, stable: not_found, invalid_input, ...")
    message = serializers.CharField(help_text="a sentence for a person")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="only for validation errors: field name to messages",
    )


class CatalogErrorSerializer(serializers.Serializer):
    """The one error shape of the API, as the catalog answers it."""

    error = CatalogErrorDetailSerializer()


NOT_FOUND = OpenApiResponse(CatalogErrorSerializer, description="`not_found`: no such active product.")
SERVICE_NOT_FOUND = OpenApiResponse(
    CatalogErrorSerializer, description="`not_found`: no such active service, or no such page."
)
NO_SUCH_PAGE = OpenApiResponse(CatalogErrorSerializer, description="`not_found`: no such page.")
INVALID_INPUT = OpenApiResponse(CatalogErrorSerializer, description="`invalid_input`, with `fields`.")


# Public and unauthenticated (see the module docstring). Kept free of a docstring so none leaks into the schema.
class PublicCatalogApi:
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]


class VariantOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    price = serializers.IntegerField(help_text="paise")
    stock = serializers.IntegerField(
        source="available", help_text="units that can be bought now: on hand minus live reservations"
    )
    in_stock = serializers.SerializerMethodField(help_text="stock > 0")

    def get_in_stock(self, variant: Variant) -> bool:
        return variant.available > 0


class ProductOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    description = serializers.CharField()
    variants = VariantOutputSerializer(many=True, source="active_variants", help_text="active variants, cheapest first")


class ProductQuerySerializer(serializers.Serializer):
    # CharField refuses NUL characters, which PostgreSQL cannot take in a query.
    search = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="text to look for (case-insensitive)"
    )


@extend_schema(
    tags=["catalog"],
    summary="List products",
    description="Active products with their active variants, by name. `search` matches, case-insensitively, "
    "the product's name or description or a variant's sku or name.",
    parameters=[ProductQuerySerializer],
    responses={200: ProductOutputSerializer, 400: INVALID_INPUT, 404: NO_SUCH_PAGE},
    auth=[],
)
class ProductListApi(PublicCatalogApi, ListAPIView):
    serializer_class = ProductOutputSerializer

    def get_queryset(self) -> QuerySet[Product]:
        query = ProductQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return product_list(search=query.validated_data.get("search", ""))

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        number = plain_page_number(request)
        if number is None:
            return super().list(request, *args, **kwargs)
        pagination = self.paginator
        assert isinstance(pagination, PagePagination)
        size = pagination.get_page_size(request) or PagePagination.page_size
        page = product_page(number=number, size=size)
        if not page.products and number != 1:
            raise NotFound(pagination.invalid_page_message.format(page_number=number, message="That page is empty."))
        # DRF's own links and envelope, over a Django page of the count the statement read.
        paginator = DjangoPaginator([], size)
        paginator.__dict__["count"] = page.count  # Paginator.count is a cached_property: the statement counted
        pagination.page = DjangoPage(page.products, number, paginator)
        pagination.request = request
        return pagination.get_paginated_response([product_body(product) for product in page.products])


def plain_page_number(request: Request) -> int | None:
    """The page a plain product list asks for (no search; `page` absent or a whole number from 1), else None: the
    ORM's list answers everything else (searches, `page=last`, pages that are not numbers) exactly as before."""
    if "search" in request.query_params:
        return None
    raw = request.query_params.get("page", "1")
    if not (raw.isascii() and raw.isdigit() and 0 < len(raw) <= 9 and int(raw) > 0):
        return None
    return int(raw)


def _variant_body(variant: Variant) -> dict[str, Any]:
    available = variant.available
    return {
        "id": variant.pk,
        "sku": variant.sku,
        "name": variant.name,
        "price": variant.price,
        "stock": available,
        "in_stock": available > 0,
    }


def product_body(product: Product) -> dict[str, Any]:
    """What ProductOutputSerializer renders, key for key (test_the_one_statement_list_answers_byte_for_byte), for a
    product with its `active_variants`."""
    return {
        "id": product.pk,
        "name": product.name,
        "slug": product.slug,
        "description": product.description,
        "variants": [_variant_body(variant) for variant in product.active_variants],  # type: ignore[attr-defined]
    }


@extend_schema(
    tags=["catalog"],
    summary="Get a product",
    description="An active product with its active variants.",
    responses={200: ProductOutputSerializer, 404: NOT_FOUND},
    auth=[],
)
class ProductDetailApi(PublicCatalogApi, RetrieveAPIView):
    serializer_class = ProductOutputSerializer

    def get_object(self) -> Product:
        return product_get(product_id=self.kwargs["product_id"])


class PackageOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    price = serializers.IntegerField(help_text="paise")


class ServiceOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    service_type = serializers.ChoiceField(choices=ServiceType.choices)
    description = serializers.CharField()
    packages = PackageOutputSerializer(many=True, source="active_packages", help_text="active packages, cheapest first")


@extend_schema(
    tags=["catalog"],
    summary="List services",
    description="Active services (e.g. pujas) with their active packages, by name.",
    responses={200: ServiceOutputSerializer, 404: NO_SUCH_PAGE},
    auth=[],
)
class ServiceListApi(PublicCatalogApi, ListAPIView):
    serializer_class = ServiceOutputSerializer

    def get_queryset(self) -> QuerySet[Service]:
        return service_list()


class SlotQuerySerializer(serializers.Serializer):
    date = serializers.DateField(input_formats=["%Y-%m-%d"], help_text="YYYY-MM-DD")


class SlotOutputSerializer(serializers.Serializer):
    date = serializers.DateField(format="%Y-%m-%d")
    time = HourMinuteField()
    capacity = serializers.IntegerField()
    remaining = serializers.IntegerField(help_text="capacity minus confirmed bookings and live reservations")


@extend_schema(
    tags=["catalog"],
    summary="List a service's slots on a date",
    description="The slots of an active service on `date` that have not started yet, in time order "
    "(times are local to the merchant). Full slots are listed with `remaining: 0`; a past date has no slots.",
    parameters=[SlotQuerySerializer],
    responses={200: SlotOutputSerializer, 400: INVALID_INPUT, 404: SERVICE_NOT_FOUND},
    auth=[],
)
class ServiceSlotListApi(PublicCatalogApi, ListAPIView):
    serializer_class = SlotOutputSerializer

    def get_queryset(self) -> QuerySet[Slot]:
        query = SlotQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        service = service_get(service_id=self.kwargs["service_id"])
        return slot_list(service=service, day=query.validated_data["date"])


class AvailabilityQuerySerializer(serializers.Serializer):
    month = serializers.RegexField(
        r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$",
        required=False,
        help_text="YYYY-MM; the current month (merchant's time zone) when left out",
        error_messages={"invalid": "Use YYYY-MM, e.g. 2026-12."},
    )


class AvailabilityDaySerializer(serializers.Serializer):
    date = serializers.DateField(format="%Y-%m-%d")
    remaining = serializers.IntegerField(help_text="places left over the day's bookable slots; 0 when all are full")


class AvailabilityOutputSerializer(serializers.Serializer):
    service_id = serializers.IntegerField()
    month = serializers.CharField(help_text="YYYY-MM")
    days = AvailabilityDaySerializer(many=True, help_text="days with bookable slots only, in date order")


@extend_schema(
    tags=["catalog"],
    summary="A service's month calendar",
    description="For each day of `month` on which the service has slots that have not started yet, the places "
    "left over that day's slots (`remaining: 0` when they are all full). Days without slots, and past days, are "
    "left out. Answered with one database query. Pick a day, then list its times with the slots endpoint.",
    parameters=[AvailabilityQuerySerializer],
    responses={200: AvailabilityOutputSerializer, 400: INVALID_INPUT, 404: SERVICE_NOT_FOUND},
    auth=[],
)
class ServiceAvailabilityApi(PublicCatalogApi, APIView):
    def get(self, request: Request, service_id: int) -> Response:
        query = AvailabilityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        month = query.validated_data.get("month") or timezone.localdate().strftime("%Y-%m")
        year, month_number = (int(part) for part in month.split("-"))
        days = service_availability(service_id=service_id, year=year, month=month_number)
        return Response(AvailabilityOutputSerializer({"service_id": service_id, "month": month, "days": days}).data)


class PlanOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    price = serializers.IntegerField(help_text="paise")
    duration_days = serializers.IntegerField()


@extend_schema(
    tags=["catalog"],
    summary="List subscription plans",
    description="Active plans, cheapest first. A plan is bought by its `code`.",
    responses={200: PlanOutputSerializer, 404: NO_SUCH_PAGE},
    auth=[],
)
class PlanListApi(PublicCatalogApi, ListAPIView):
    serializer_class = PlanOutputSerializer

    def get_queryset(self) -> QuerySet[Plan]:
        return plan_list()
