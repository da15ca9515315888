"""The product list's hand-written read: one page of active products, their active variants and how many active
products there are, in one statement.

The ORM's paginated list sends three (the count, the page, the variants); this sends one, built once per database
and prepared on PostgreSQL (`payfirst.core.sql.fetch_prepared`). The page is the same: products by name then id,
each product's active variants cheapest first (then by id), the count of every active product. Searches and any
page request that is not a plain page number go through the ORM's list (`selectors.product_list`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.db import connection

from payfirst.catalog.models import Product, Variant
from payfirst.core.sql import Columns, fetch_prepared, table


@dataclass(frozen=True)
class ProductPage:
    products: list[Product]  # each with `active_variants`, as selectors.product_list prefetches them
    count: int  # active products in all (0 when the page is past the end: it holds no product to count with)


@dataclass(frozen=True)
class _Statement:
    sql: str
    product: Columns[Product]
    variant: Columns[Variant]


@cache
def _statement(vendor: str) -> _Statement:
    """The statement for the connected database (`vendor` keys it)."""
    product, variant = Columns(Product, "p"), Columns(Variant, "v")
    sql = (
        f"WITH page AS (SELECT q.*, COUNT(*) OVER () AS active_count FROM {table(Product)} q WHERE q.is_active "
        f"ORDER BY q.name, q.id LIMIT %s OFFSET %s) "
        f"SELECT {product.sql()}, p.active_count, {variant.sql()} FROM page p "
        f"LEFT JOIN {table(Variant)} v ON v.product_id = p.id AND v.is_active "
        f"ORDER BY p.name, p.id, v.price, v.id"
    )
    return _Statement(sql=sql, product=product, variant=variant)


def product_page(*, number: int, size: int) -> ProductPage:
    """Page `number` (from 1) of `size` active products, as the product list answers it."""
    statement = _statement(connection.vendor)
    rows, db = fetch_prepared(statement.sql, [size, (number - 1) * size])
    products: list[Product] = []
    count = 0
    variant_start = len(statement.product) + 1
    for row in rows:
        if not products or products[-1].pk != row[statement.product.pk_index]:
            product = statement.product.instance(row, 0, db)
            assert product is not None  # the page's rows come from products
            product.active_variants = []  # type: ignore[attr-defined]  # as the ORM list's Prefetch(to_attr=...)
            products.append(product)
            count = int(row[len(statement.product)])
        variant = statement.variant.instance(row, variant_start, db)
        if variant is not None:
            products[-1].active_variants.append(variant)  # type: ignore[attr-defined]
    return ProductPage(products=products, count=count)
