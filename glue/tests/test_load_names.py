"""Identifiers: lowercased lake names, quoting of awkward names end to end, collisions."""
from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import Loader
from exportkit import Col, col
from lakesync_glue.query import run_query
from scenario import Versions

COLS = [
    col("ID", "bigint"),
    col("Unit Price", "numeric(8,2)"),
    col("select", "text"),
    col("we`ird", "text"),
    col('say "hi"', "text"),
    col("ünïcode Größe", "integer"),
    col("a.b", "text"),
]
V1 = [(1, "1.00", "s1", "w1", "q1", 10, "d1"), (2, "2.00", "s2", "w2", "q2", 20, "d2"), (3, "3.00", "s3", "w3", "q3", 30, "d3")]
V2 = [(1, "1.00", "s1", "w1", "q1", 10, "d1"), (2, "2.50", "s2!", "w2", "q2", 21, "d2"), (4, "4.00", "s4", "w`4", "q'4", 40, "d.4")]
LAKE_NAMES = ["id", "unit price", "select", "we`ird", 'say "hi"', "ünïcode größe", "a.b"]


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> Versions:
    # Schema and table names with upper case and a space, as PostgreSQL allows when quoted.
    return Versions(tmp_path_factory.mktemp("names"), "Shop", "Sales", "Order Items")


def rows(spark: Any) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in run_query(spark, "SELECT * FROM lake.tests.order_items ORDER BY `id`")]


def test_awkward_names_create_and_merge(load: Loader, spark: Any, versions: Versions) -> None:
    first = load(versions.export(COLS, V1), "Shop.Sales.Order Items", "order_items", action="merge", primary_key="ID")
    assert first.status == "succeeded", first.error
    assert first.table == "Shop.Sales.Order Items"
    assert [f.name for f in spark.table("lake.tests.order_items").schema.fields] == LAKE_NAMES
    assert rows(spark) == [(r[0], r[1], *r[2:]) for r in V1]

    second = load(versions.export(COLS, V2), "Shop.Sales.Order Items", "order_items", action="merge", primary_key="ID")
    assert second.status == "succeeded", second.error
    assert (second.inserted, second.updated, second.deleted) == (1, 1, 1)
    assert rows(spark) == [(1, "1.00", "s1", "w1", "q1", 10, "d1"), (2, "2.50", "s2!", "w2", "q2", 21, "d2"),
                           (4, "4.00", "s4", "w`4", "q'4", 40, "d.4")]


def test_columns_equal_once_lowercased_fail_with_both_names(load: Loader, spark: Any, versions: Versions) -> None:
    export = versions.export([col("id", "bigint"), col("Name", "text"), col("NAME", "text")], [(1, "a", "b")])
    result = load(export, "Shop.Sales.Order Items", "order_items_2", action="replace")
    assert result.error is not None and result.error["class"] == "NameCollision"
    assert "'Name'" in result.error["message"] and "'NAME'" in result.error["message"]
    assert not spark.catalog.tableExists("lake.tests.order_items_2")


def test_a_source_column_named_like_an_internal_column_is_refused_before_any_write(load: Loader, spark: Any,
                                                                                  versions: Versions) -> None:
    """The parsed list of `tags` (column 1) was once written over a source column `__lakesync_list_1`."""
    cols = [col("id", "integer"), Col("tags", "_int4", "binary (UTF8)"), col("__lakesync_list_1", "text")]
    export = versions.export(cols, [(1, "{1,2}", "hello")])
    result = load(export, "Shop.Sales.Order Items", "reserved_names", action="replace")
    assert result.error is not None and result.error["class"] == "NameCollision", result.error
    message = result.error["message"]
    assert message.startswith("table Shop.Sales.Order Items: column '__lakesync_list_1' "), message
    assert "exclude it with a column policy" in message, message
    assert not spark.catalog.tableExists("lake.tests.reserved_names")
    excluded = load(export, "Shop.Sales.Order Items", "reserved_names", action="replace",
                    column_policies='{"__lakesync_list_1": {"exclude": true}}')
    assert excluded.status == "succeeded", excluded.error
    assert [tuple(r.values()) for r in run_query(spark, "SELECT * FROM lake.tests.reserved_names")] == [(1, "[1,2]")]


@pytest.mark.parametrize("name", ["_file", "_POS", "_deleted", "_spec_id", "_partition"])
def test_a_column_named_like_an_iceberg_metadata_column_is_refused_before_any_write(load: Loader, spark: Any,
                                                                                    versions: Versions, name: str) -> None:
    """Iceberg refuses to read (and so to merge into) a table with such a column; the create alone would succeed."""
    export = versions.export([col("id", "integer"), col(name, "text")], [(1, "a"), (2, "b")])
    result = load(export, "Shop.Sales.Order Items", "metadata_names", action="merge", primary_key="id")
    assert result.error is not None and result.error["class"] == "NameCollision", result.error
    message = result.error["message"]
    assert message.startswith(f"table Shop.Sales.Order Items: column {name!r} becomes {name.lower()!r}, a name Iceberg "
                              "reserves for its metadata columns"), message
    assert "rename it with a column policy (rename)" in message, message
    assert not spark.catalog.tableExists("lake.tests.metadata_names")
    renamed = load(export, "Shop.Sales.Order Items", "metadata_names", action="merge", primary_key="id",
                   column_policies=json.dumps({name: {"rename": "source" + name.lower()}}))
    assert renamed.status == "succeeded", renamed.error
    again = load(versions.export([col("id", "integer"), col(name, "text")], [(1, "a"), (2, "c")]),
                 "Shop.Sales.Order Items", "metadata_names", action="merge", primary_key="id",
                 column_policies=json.dumps({name: {"rename": "source" + name.lower()}}))
    assert (again.status, again.updated) == ("succeeded", 1), again.error
    spark.sql("DROP TABLE lake.tests.metadata_names").collect()


@pytest.mark.parametrize("name, rename", [("__row_id", None), ("__ROW_OPERATION", None), ("__row_from_source", None),
                                          ("note", "__row_from_target"), ("__original_row_id__file", None)])
def test_a_column_named_like_a_column_of_sparks_merge_is_refused_before_a_keyed_load_writes(
        load: Loader, spark: Any, versions: Versions, name: str, rename: str | None) -> None:
    """Spark's MERGE adds columns of these names to its plan: a lake column of one fails every MERGE into the table
    (an ambiguous reference, reported as a retryable internal error), so a keyed table with one could be created but
    never merged into. A table without a key never merges: it loads them."""
    cols = [col("id", "integer"), col(name, "text")]
    policies = json.dumps({name: {"rename": rename}}) if rename else None
    options = {"column_policies": policies} if policies else {}
    export = versions.export(cols, [(1, "a"), (2, "b")])
    lake = (rename or name).lower()
    for action in ("merge", "incremental"):
        extra = {"cursor_column": "id", "cursor_mode": "upsert"} if action == "incremental" else {}
        result = load(export, "Shop.Sales.Order Items", "merge_names", action=action, primary_key="id", **extra, **options)
        assert result.error is not None and result.error["class"] == "NameCollision", result.error
        assert result.error["retryable"] is False
        message = result.error["message"]
        becomes = f"becomes {lake!r}" if rename is None else f"is renamed to {lake!r}"
        assert message.startswith(f"table Shop.Sales.Order Items: column {name!r} {becomes}, a name Spark's MERGE "
                                  "uses for its own columns"), message
        assert "rename it with a column policy (rename), rename it in PostgreSQL, or exclude it" in message, message
        assert not spark.catalog.tableExists("lake.tests.merge_names")
    fixed = {"column_policies": json.dumps({name: {"rename": "source_column"}})}
    for rows in ([(1, "a"), (2, "b")], [(1, "a"), (2, "c"), (3, "d")]):
        merged = load(versions.export(cols, rows), "Shop.Sales.Order Items", "merge_names", action="merge",
                      primary_key="id", **fixed)
        assert merged.status == "succeeded", merged.error
    assert (merged.inserted, merged.updated) == (1, 1)
    spark.sql("DROP TABLE lake.tests.merge_names").collect()
    for rows in ([(1, "a"), (2, "b")], [(1, "a"), (2, "c"), (3, "d")]):
        replaced = load(versions.export(cols, rows), "Shop.Sales.Order Items", "merge_names_keyless", action="replace",
                        **options)
        assert replaced.status == "succeeded", replaced.error
    assert [r[lake] for r in run_query(spark, "SELECT * FROM lake.tests.merge_names_keyless ORDER BY id")] == ["a", "c", "d"]


def test_a_keyed_table_whose_loads_replace_it_is_created_with_a_column_named_like_one_of_sparks_merge(
        load: Loader, spark: Any, versions: Versions) -> None:
    """A keyed table configured `action: replace` (or read incrementally in append mode) is never merged into:
    its create, told the action of the loads after it (--next_action), loads a column named like one of Spark's
    MERGE columns, and so do the loads after it. A create whose next loads merge is still refused."""
    cols = [col("id", "integer"), col("__row_id", "text"), col("seq", "integer")]
    first = versions.export(cols, [(1, "a", 1), (2, "b", 2)])
    created = load(first, "Shop.Sales.Order Items", "replaced_keyed", action="create", primary_key="id",
                   next_action="replace")
    assert created.status == "succeeded", created.error
    second = versions.export(cols, [(1, "a", 1), (2, "c", 2), (3, "d", 3)])
    replaced = load(second, "Shop.Sales.Order Items", "replaced_keyed", action="replace", primary_key="id")
    assert replaced.status == "succeeded", replaced.error
    assert [r["__row_id"] for r in run_query(spark, "SELECT * FROM lake.tests.replaced_keyed ORDER BY id")] == ["a", "c", "d"]
    # A create asked again for the table that now exists takes the next loads' action: a replace, not a merge.
    again = load(second, "Shop.Sales.Order Items", "replaced_keyed", action="create", primary_key="id",
                 next_action="replace")
    assert again.status == "succeeded", again.error
    assert [r["__row_id"] for r in run_query(spark, "SELECT * FROM lake.tests.replaced_keyed ORDER BY id")] == ["a", "c", "d"]
    spark.sql("DROP TABLE lake.tests.replaced_keyed").collect()
    appended = load(first, "Shop.Sales.Order Items", "appended_keyed", action="create", primary_key="id",
                    cursor_column="seq", cursor_mode="append", next_action="incremental")
    assert appended.status == "succeeded", appended.error
    spark.sql("DROP TABLE lake.tests.appended_keyed").collect()
    for extra in ({"next_action": "merge"}, {}, {"next_action": "incremental", "cursor_column": "seq", "cursor_mode": "upsert"}):
        refused = load(first, "Shop.Sales.Order Items", "merged_keyed", action="create", primary_key="id", **extra)
        assert refused.error is not None and refused.error["class"] == "NameCollision", (extra, refused.error)
        assert not spark.catalog.tableExists("lake.tests.merged_keyed")


def test_dollar_braces_in_names_and_values_are_taken_literally(load: Loader, spark: Any, versions: Versions) -> None:
    """`${...}` is text in names and values: Spark's variable substitution must not rewrite the statements
    (a key `a${x}` listed as `a` in the MERGE would leave its update and delete unapplied, yet counted)."""
    cols = [col("code", "text"), col("note", "text"), col("note${x}", "text"), col("home ${env:HOME}", "text")]
    v1 = [("a${x}", "n1", "x1", "h1"), ("b${spark.app.name}", "n2", "x2", "h2"), ("c", "n3", "x3", "h3")]
    first = load(versions.export(cols, v1), "Shop.Sales.Order Items", "dollars", action="merge", primary_key="code")
    assert first.status == "succeeded", first.error
    assert [f.name for f in spark.table("lake.tests.dollars").schema.fields] == ["code", "note", "note${x}", "home ${env:home}"]
    v2 = [("a${x}", "n1!", "x1!", "h1!"), ("c", "n3", "x3", "h3")]
    second = load(versions.export(cols, v2), "Shop.Sales.Order Items", "dollars", action="merge", primary_key="code")
    assert second.status == "succeeded", second.error
    assert (second.inserted, second.updated, second.deleted) == (0, 1, 1)
    assert [tuple(r.values()) for r in run_query(spark, "SELECT * FROM lake.tests.dollars ORDER BY code")] == [
        ("a${x}", "n1!", "x1!", "h1!"), ("c", "n3", "x3", "h3")]


def test_dollar_braces_in_key_values_are_taken_literally(load: Loader, spark: Any, versions: Versions) -> None:
    """A key `a${x}` named in the MERGE's key list must stay itself: rewritten to `a`, its update and
    delete would match no lake row and be lost while the result counts them."""
    cols = [col("code", "text"), col("note", "text")]
    v1 = [("a${x}", "n1"), ("b${env:HOME}", "n2"), ("c", "n3")]
    first = load(versions.export(cols, v1), "Shop.Sales.Order Items", "dollar_keys", action="merge", primary_key="code")
    assert first.status == "succeeded", first.error
    v2 = [("a${x}", "n1!"), ("c", "n3")]
    second = load(versions.export(cols, v2), "Shop.Sales.Order Items", "dollar_keys", action="merge", primary_key="code")
    assert second.status == "succeeded", second.error
    assert (second.inserted, second.updated, second.deleted) == (0, 1, 1)
    assert [tuple(r.values()) for r in run_query(spark, "SELECT * FROM lake.tests.dollar_keys ORDER BY code")] == [
        ("a${x}", "n1!"), ("c", "n3")]


def test_a_table_whose_name_begins_with_a_space_loads_its_own_rows_not_the_ones_of_the_table_without_it(
        load: Loader, spark: Any, tmp_path: Any) -> None:
    from exportkit import TableData, write_export

    columns = [col("id", "bigint"), col("owner", "text")]
    export = write_export(tmp_path, [
        TableData("shop", "public", "orders", columns, [(1, "orders"), (2, "orders")]),
        TableData("shop", "public", " orders", columns, [(7, "spaced")]),
    ])
    result = load(export.path, "shop.public. orders", "spaced_orders", action="merge", primary_key="id")
    assert result.status == "succeeded", result.error
    assert result.table == "shop.public. orders"
    got = [tuple(r.values()) for r in run_query(spark, "SELECT id, owner FROM lake.tests.spaced_orders ORDER BY id")]
    assert got == [(7, "spaced")]


def test_a_composite_key_of_two_case_twin_columns_merges_by_both(load: Loader, spark: Any, versions: Versions) -> None:
    """PostgreSQL may key a table by id and "ID", two columns: with one renamed, the lake keeps both and the load
    merges by the pair. A key that names one column twice (once by its lake name) is refused before any write."""
    cols = [col("id", "integer"), col("ID", "integer"), col("note", "text")]
    fixed = {"column_policies": json.dumps({"ID": {"rename": "id_upper"}})}
    first = load(versions.export(cols, [(1, 1, "a"), (1, 2, "b")]), "Shop.Sales.Order Items", "case_twin_keys",
                 action="merge", primary_key="id,ID", **fixed)
    assert first.status == "succeeded", first.error
    second = load(versions.export(cols, [(1, 1, "a"), (1, 2, "c"), (2, 1, "d")]), "Shop.Sales.Order Items",
                  "case_twin_keys", action="merge", primary_key="id,ID", **fixed)
    assert second.status == "succeeded", second.error
    assert (second.inserted, second.updated, second.deleted) == (1, 1, 0)
    assert [(r["id"], r["id_upper"], r["note"]) for r in
            run_query(spark, "SELECT * FROM lake.tests.case_twin_keys ORDER BY id, id_upper")] == [
        (1, 1, "a"), (1, 2, "c"), (2, 1, "d")]

    twice = load(versions.export([col("id", "integer"), col("note", "text")], [(1, "a")]), "Shop.Sales.Order Items",
                 "case_twin_once", action="merge", primary_key="id,ID")
    assert twice.error is not None and twice.error["class"] == "InvalidArgument", twice.error
    assert "names column 'id' twice" in twice.error["message"], twice.error["message"]
    assert not spark.catalog.tableExists("lake.tests.case_twin_once")
