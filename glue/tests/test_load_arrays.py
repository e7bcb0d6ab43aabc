"""PostgreSQL arrays as Iceberg lists: element types, NULL elements, quoting, 2-D arrays, old text columns, rebuild."""
from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import Loader
from exportkit import Col, col
from scenario import Versions

TEXT = "binary (UTF8)"
# originalType as RDS writes it (ARRAY) and as other exporters do (_int4, integer[]); a udt name adds the element.
ARRAYS = [
    Col("ints", "_int4", TEXT), Col("bigs", "bigint[]", TEXT), Col("smalls", "_int2", TEXT),
    Col("nums", "_numeric", TEXT), Col("flags", "_bool", TEXT), Col("uids", "_uuid", TEXT),
    Col("days", "_date", TEXT), Col("ats", "timestamp without time zone[]", TEXT), Col("atz", "_timestamptz", TEXT),
    Col("dbls", "_float8", TEXT), Col("reals", "real[]", TEXT), Col("texts", "text[]", TEXT),
    Col("names", "_varchar", TEXT), Col("codes", "_bpchar", TEXT), Col("plain", "ARRAY", TEXT),
]
LAKE_TYPES = {
    "id": "bigint", "ints": "array<int>", "bigs": "array<bigint>", "smalls": "array<int>",
    "nums": "array<decimal(38,18)>", "flags": "array<boolean>", "uids": "array<string>", "days": "array<date>",
    "ats": "array<timestamp_ntz>", "atz": "array<timestamp>", "dbls": "array<double>", "reals": "array<float>",
    "texts": "array<string>", "names": "array<string>", "codes": "array<string>", "plain": "array<string>",
}
ROWS = [
    (1, "{1,NULL,-3}", "{9007199254740993}", "{-32768}", "{1.50,NULL}", "{t,f,NULL}",
     "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", "{2024-02-29,NULL,infinity}", '{"2024-01-01 10:00:00.5"}',
     '{"2024-01-01 10:00:00+02"}', "{1.5,NaN,-Infinity}", "{0.25}",
     '{"a,b","say \\"hi\\"","back\\\\slash","NULL",NULL,""}', '{"x y",z}', '{"ab  "}', "{1,2}"),
    (2, "{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}"),
    (3,) + (None,) * 15,
]
# Every list as array<string> through Spark's own formatting (timestamps in the session's UTC).
EXPECTED = [
    {"id": 1, "ints": ["1", None, "-3"], "bigs": ["9007199254740993"], "smalls": ["-32768"],
     "nums": ["1.500000000000000000", None], "flags": ["true", "false", None],
     "uids": ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"], "days": ["2024-02-29", None, "9999-12-31"],
     "ats": ["2024-01-01 10:00:00.5"], "atz": ["2024-01-01 08:00:00"], "dbls": ["1.5", "NaN", "-Infinity"],
     "reals": ["0.25"], "texts": ["a,b", 'say "hi"', "back\\slash", "NULL", None, ""], "names": ["x y", "z"],
     "codes": ["ab  "], "plain": ["1", "2"]},
    {"id": 2, **{c.name: [] for c in ARRAYS}},
    {"id": 3, **{c.name: None for c in ARRAYS}},
]


def as_text(spark: Any, table: str) -> list[dict[str, Any]]:
    fields = spark.table(f"lake.tests.{table}").schema.fields
    select = ", ".join(f"CAST(`{f.name}` AS array<string>) AS `{f.name}`" if f.dataType.simpleString().startswith("array")
                       else f"`{f.name}`" for f in fields)
    return [r.asDict() for r in spark.sql(f"SELECT {select} FROM lake.tests.{table} ORDER BY id").collect()]


def lake_types(spark: Any, table: str) -> dict[str, str]:
    return {f.name: f.dataType.simpleString() for f in spark.table(f"lake.tests.{table}").schema.fields}


def test_one_dimensional_arrays_become_lists_of_their_element_type(load: Loader, spark: Any, tmp_path: Any) -> None:
    versions = Versions(tmp_path, "shop", "public", "arrays")
    export = versions.export([col("id", "bigint")] + ARRAYS, ROWS)
    created = load(export, "shop.public.arrays", "arr_arrays", action="create", primary_key="id")
    assert created.status == "succeeded", created.error
    assert lake_types(spark, "arr_arrays") == LAKE_TYPES
    assert as_text(spark, "arr_arrays") == EXPECTED
    assert created.clampedValues == {"days": 1}
    again = load(export, "shop.public.arrays", "arr_arrays", action="merge", primary_key="id")
    assert (again.status, again.action, again.updated) == ("succeeded", "none", 0), again.error
    changed = [(1, "{1,NULL,4}") + ROWS[0][2:]] + ROWS[1:]
    merged = load(versions.export([col("id", "bigint")] + ARRAYS, changed),
                  "shop.public.arrays", "arr_arrays", action="merge", primary_key="id")
    assert (merged.status, merged.action, merged.updated, merged.inserted) == ("succeeded", "merge", 1, 0), merged.error
    assert as_text(spark, "arr_arrays")[0]["ints"] == ["1", None, "4"]


def test_bad_elements_fail_or_become_null(load: Loader, spark: Any, tmp_path: Any) -> None:
    export = Versions(tmp_path, "shop", "public", "bad_lists").export(
        [col("id", "bigint"), Col("ints", "_int4", TEXT)], [(1, "{1,x,3}"), (2, "{4}")])
    failed = load(export, "shop.public.bad_lists", "arr_bad_lists", action="create", primary_key="id")
    assert failed.error is not None and failed.error["class"] == "CastError"
    assert "column 'ints' (_int4) has 1 value(s) that cannot become array<int>" in failed.error["message"]
    nulled = load(export, "shop.public.bad_lists", "arr_bad_lists", action="create", primary_key="id",
                  column_policies=json.dumps({"ints": {"onInvalid": "null"}}))
    assert nulled.status == "succeeded", nulled.error
    assert nulled.nulledValues == {"ints": 1}
    assert [r["ints"] for r in as_text(spark, "arr_bad_lists")] == [["1", None, "3"], ["4"]]


def test_multi_dimensional_arrays_stay_text_with_a_warning(load: Loader, spark: Any, tmp_path: Any) -> None:
    export = Versions(tmp_path, "shop", "public", "grids").export(
        [col("id", "bigint"), Col("grid", "_int4", TEXT), Col("ints", "_int4", TEXT)],
        [(1, "{{1,2},{3,4}}", "{1}"), (2, "{5}", "{2}")])
    result = load(export, "shop.public.grids", "arr_grids", action="create", primary_key="id")
    assert result.status == "succeeded", result.error
    assert lake_types(spark, "arr_grids") == {"id": "bigint", "grid": "string", "ints": "array<int>"}
    assert result.warnings == ["column 'grid' (_int4) stays text (string): 1 value(s) are multi-dimensional arrays "
                               "or arrays with explicit bounds, which have no list form"]
    assert [r["grid"] for r in as_text(spark, "arr_grids")] == ["{{1,2},{3,4}}", "{5}"]


def test_a_text_array_column_stays_text_until_a_rebuild(load: Loader, spark: Any, tmp_path: Any) -> None:
    versions = Versions(tmp_path, "shop", "public", "tagged")
    cols = [col("id", "bigint"), Col("tags", "_text", TEXT)]
    # A lake table from before arrays became lists: its tags column is text.
    old = load(versions.export(cols, [(1, "{a,b}"), (2, None)]), "shop.public.tagged", "arr_tagged", action="create",
               primary_key="id", column_policies=json.dumps({"tags": {"type": "string"}}))
    assert old.status == "succeeded", old.error
    v2 = versions.export(cols + [Col("scores", "_int4", TEXT)], [(1, "{a,b}", "{1}"), (2, "{c}", None), (3, "{}", "{}")])
    merged = load(v2, "shop.public.tagged", "arr_tagged", action="merge", primary_key="id")
    assert merged.status == "succeeded", merged.error
    assert (merged.inserted, merged.updated) == (1, 2)
    assert lake_types(spark, "arr_tagged") == {"id": "bigint", "tags": "string", "scores": "array<int>"}
    assert merged.schemaChanges == ["added column scores array<int>"]
    assert merged.warnings == ["column 'tags' stays text (string) in the lake table, as it was loaded before arrays "
                               "became lists; rebuild the table from the export (lakesync rerun shop --rebuild public.tagged) "
                               "to load it as a list"]
    rebuilt = load(v2, "shop.public.tagged", "arr_tagged", action="merge", primary_key="id", rebuild="true")
    assert rebuilt.status == "succeeded", rebuilt.error
    assert (rebuilt.action, rebuilt.committed, rebuilt.inserted, rebuilt.deleted) == ("replace", True, 0, 0)
    assert rebuilt.schemaChanges == ["rebuilt column tags from string to array<string>"]
    assert lake_types(spark, "arr_tagged")["tags"] == "array<string>"
    assert [r["tags"] for r in as_text(spark, "arr_tagged")] == [["a", "b"], ["c"], []]
    again = load(v2, "shop.public.tagged", "arr_tagged", action="merge", primary_key="id", rebuild="true")
    assert (again.action, again.committed) == ("none", False), again.error


def test_a_rebuild_keeps_the_delete_guard(load: Loader, spark: Any, tmp_path: Any) -> None:
    versions = Versions(tmp_path, "shop", "public", "shrunk")
    cols = [col("id", "bigint"), Col("tags", "_text", TEXT)]
    load(versions.export(cols, [(i, "{a}") for i in range(1, 5)]), "shop.public.shrunk", "arr_shrunk", action="create",
         primary_key="id", column_policies=json.dumps({"tags": {"type": "string"}}))
    refused = load(versions.export(cols, [(1, "{a}")]), "shop.public.shrunk", "arr_shrunk", action="merge",
                   primary_key="id", rebuild="true")
    assert refused.error is not None and refused.error["class"] == "DeleteGuard"
    assert lake_types(spark, "arr_shrunk")["tags"] == "string"


def test_a_rebuild_that_retypes_every_column_counts_by_rows_and_keeps_the_delete_guard(load: Loader, spark: Any,
                                                                                      tmp_path: Any) -> None:
    """No column keeps its type, so no row can be matched: the lake's rows are not all taken as deleted."""
    versions = Versions(tmp_path, "shop", "public", "retyped_all")
    cols = [Col("tags", "_text", TEXT)]
    rows = [("{a}",), ("{b,c}",), ("{}",), ("{d}",)]
    load(versions.export(cols, rows), "shop.public.retyped_all", "arr_retyped_all", action="create",
         column_policies=json.dumps({"tags": {"type": "string"}}))
    rebuilt = load(versions.export(cols, rows + [("{e}",)]), "shop.public.retyped_all", "arr_retyped_all",
                   action="replace", rebuild="true")
    assert rebuilt.status == "succeeded", rebuilt.error
    assert (rebuilt.committed, rebuilt.inserted, rebuilt.deleted) == (True, 1, 0)
    assert lake_types(spark, "arr_retyped_all")["tags"] == "array<string>"
    # Fewer rows than the lake holds: the delete guard still stands.
    refused = load(versions.export(cols, rows[:1]), "shop.public.retyped_all", "arr_retyped_all", action="replace",
                   rebuild="true", column_policies=json.dumps({"tags": {"type": "string"}}))
    assert refused.error is not None and refused.error["class"] == "DeleteGuard", refused.error


def test_box_arrays_split_on_semicolons(load: Loader, spark: Any, tmp_path: Any) -> None:
    """box is the one built-in type whose arrays PostgreSQL delimits with ';' (its elements hold commas, unquoted)."""
    boxes = [Col("boxes", "_box", TEXT), Col("frames", "box[]", TEXT)]
    rows = [(1, "{(1,1),(0,0);(2,2),(1,1)}", "{(3,3),(2,2)}"), (2, "{(1,1),(0,0);NULL}", "{}"), (3, None, None)]
    export = Versions(tmp_path, "shop", "public", "boxes").export([col("id", "bigint")] + boxes, rows)
    created = load(export, "shop.public.boxes", "arr_boxes", action="create", primary_key="id")
    assert created.status == "succeeded", created.error
    assert lake_types(spark, "arr_boxes") == {"id": "bigint", "boxes": "array<string>", "frames": "array<string>"}
    assert as_text(spark, "arr_boxes") == [
        {"id": 1, "boxes": ["(1,1),(0,0)", "(2,2),(1,1)"], "frames": ["(3,3),(2,2)"]},
        {"id": 2, "boxes": ["(1,1),(0,0)", None], "frames": []},
        {"id": 3, "boxes": None, "frames": None},
    ]


def test_an_export_that_names_no_element_type_loads_into_the_lake_tables_lists(load: Loader, spark: Any,
                                                                              tmp_path: Any) -> None:
    """A table first loaded from an export naming its arrays' element types (the embedded exporter's _int4, or a
    direct load) and then from an RDS export (a bare ARRAY): the elements are read as the lake's lists hold them."""
    versions = Versions(tmp_path, "shop", "public", "arr_bare")
    named = [col("id", "bigint"), Col("ints", "_int4", TEXT), Col("days", "_date", TEXT), Col("atz", "_timestamptz", TEXT),
             Col("nums", "_numeric", TEXT), Col("dbls", "_float8", TEXT), Col("flags", "_bool", TEXT)]
    bare = [named[0]] + [Col(c.name, "ARRAY", TEXT) for c in named[1:]]
    rows = [(1, "{1,NULL,-3}", "{2024-02-29}", '{"2024-01-01 10:00:00+02"}', "{1.50}", "{0.1,NaN}", "{t,NULL}"),
            (2, "{}", None, None, None, None, None)]
    first = load(versions.export(named, rows), versions.target, "arr_bare", action="merge", primary_key="id")
    assert first.status == "succeeded", first.error
    types = lake_types(spark, "arr_bare")
    same = load(versions.export(bare, rows), versions.target, "arr_bare", action="merge", primary_key="id")
    assert same.status == "succeeded", same.error
    assert (same.action, same.committed, same.inserted, same.updated, same.deleted) == ("none", False, 0, 0, 0)
    changed = [(1, "{1,NULL,-4}", "{2024-02-29,infinity}", '{"2024-01-01 10:00:00+02"}', "{1.50}", "{0.1,NaN}", "{t,NULL}"),
               (2, "{}", None, None, None, None, None)]
    merged = load(versions.export(bare, changed), versions.target, "arr_bare", action="merge", primary_key="id")
    assert merged.status == "succeeded", merged.error
    assert (merged.updated, merged.schemaChanges, merged.clampedValues) == (1, [], {"days": 1})
    assert lake_types(spark, "arr_bare") == types
    assert as_text(spark, "arr_bare")[0]["ints"] == ["1", None, "-4"]
    assert as_text(spark, "arr_bare")[0]["days"] == ["2024-02-29", "9999-12-31"]
    bad = load(versions.export(bare, [(1, "{x}", None, None, None, None, None)] + changed[1:]), versions.target,
               "arr_bare", action="merge", primary_key="id")
    assert bad.error is not None and bad.error["class"] == "CastError", bad.error
    assert "column 'ints'" in bad.error["message"]
