"""core/sql.py: the quoted table names and lock clauses the apps' lock modules are built from, per database, and the
instances the hand-written reads build."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models.signals import post_init

from payfirst.catalog.models import Product, Variant
from payfirst.core.sql import Columns, attach, for_no_key_update, for_update, placeholders, table
from payfirst.testing import factories


def test_the_table_name_is_quoted_for_the_connected_database():
    assert table(Variant) == connection.ops.quote_name(Variant._meta.db_table)
    assert table(Variant) == '"catalog_variant"'


def test_lock_clauses_are_postgresql_row_locks_and_nothing_on_sqlite():
    if connection.vendor == "postgresql":
        assert for_update() == " FOR UPDATE"
        assert for_update(of=("c", "p")) == " FOR UPDATE OF c, p"
        assert for_no_key_update() == " FOR NO KEY UPDATE"
    else:
        assert (for_update(), for_update(of=("c", "p")), for_no_key_update()) == ("", "", "")


def test_placeholders():
    assert placeholders(1) == "%s"
    assert placeholders(3) == "%s, %s, %s"


def _read(columns: Columns, pk: int):
    """The instance `columns` makes of the row `pk`, read with a hand-written SELECT as the snapshots read."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns.sql()} FROM {table(columns.model)} {columns.alias} WHERE {columns.alias}.id = %s", [pk]
        )
        return columns.instance(cursor.fetchone(), 0, cursor.db)


def _field_values(instance) -> dict:
    return {name: value for name, value in vars(instance).items() if not name.startswith("_")}


@pytest.mark.django_db
def test_an_instance_read_by_columns_is_the_one_a_queryset_builds():
    variant = factories.make_variant(price=49900, stock=5)
    made = _read(Columns(Variant, "v"), variant.pk)
    queried = Variant.objects.get(pk=variant.pk)
    assert type(made) is Variant and _field_values(made) == _field_values(queried)
    assert (made._state.adding, made._state.db) == (False, queried._state.db) == (False, "default")
    assert made.created_at == queried.created_at and made.created_at.tzinfo is not None


@pytest.mark.django_db
def test_columns_narrowed_with_only_defer_the_rest_as_queryset_only_does(django_assert_num_queries):
    variant = factories.make_variant(price=49900, stock=5)
    made = _read(Columns(Variant, "v", only=("id", "name", "price")), variant.pk)
    assert made.get_deferred_fields() == Variant.objects.only("id", "name", "price").get().get_deferred_fields()
    with django_assert_num_queries(0):
        assert (made.name, made.price) == ("Large", 49900)
    with django_assert_num_queries(1):  # a field it did not read is read when asked for
        assert made.sku == variant.sku


def test_columns_refuses_a_field_the_model_does_not_have():
    with pytest.raises(ValueError, match="no concrete fields"):
        Columns(Variant, "v", only=("id", "colour"))


@pytest.mark.django_db
def test_a_model_with_an_init_receiver_is_built_through_from_db():
    variant = factories.make_variant()
    seen: list[int] = []

    def on_init(sender, instance, **kwargs):
        seen.append(instance.pk)

    post_init.connect(on_init, sender=Variant)
    try:
        columns = Columns(Variant, "v")
        assert not columns.plain
        made = _read(columns, variant.pk)
    finally:
        post_init.disconnect(on_init, sender=Variant)
    assert seen == [variant.pk] and _field_values(made) == _field_values(Variant.objects.get(pk=variant.pk))
    assert Columns(Variant, "v").plain


@pytest.mark.django_db
def test_attach_caches_the_related_row_as_select_related_does(django_assert_num_queries):
    variant = factories.make_variant()
    made = _read(Columns(Variant, "v", only=("id", "product_id", "name")), variant.pk)
    product = Product.objects.get(pk=variant.product_id)
    attach(made, "product", product)
    with django_assert_num_queries(0):
        assert made.product is product and made.product_id == product.pk
