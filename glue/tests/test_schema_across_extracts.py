"""A table's lake schema follows its source across direct windows and export loads: arrays typed by the
catalog (never by the first values), and appends across a column dropped and added again."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import Loader, PgServer
from exportkit import Col, col
from lakesync_glue.query import run_query
from scenario import Versions

TEXT = "binary (UTF8)"


def lake_types(spark: Any, table: str) -> dict[str, str]:
    return {f.name: f.dataType.simpleString() for f in spark.table(f"lake.tests.{table}").schema.fields}


def as_text(spark: Any, table: str) -> list[dict[str, Any]]:
    fields = spark.table(f"lake.tests.{table}").schema.fields
    select = ", ".join(f"CAST(`{f.name}` AS array<string>) AS `{f.name}`" if f.dataType.simpleString().startswith("array")
                       else f"`{f.name}`" for f in fields)
    return [r.asDict() for r in spark.sql(f"SELECT {select} FROM lake.tests.{table} ORDER BY id").collect()]


def source_rows(postgres: PgServer, table: str, columns: str) -> list[list[str]]:
    return postgres.sql(f"SELECT {columns} FROM {table} ORDER BY id")


def test_text_arrays_whose_first_values_look_numeric_or_empty_stay_lists_of_text(
        direct_load: Loader, load: Loader, postgres: PgServer, spark: Any, tmp_path: Path) -> None:
    table = "d_tags"
    postgres.sql(f"CREATE TABLE {table} (id bigint PRIMARY KEY, tags text[], codes varchar(8)[], empty text[])")
    postgres.sql(f"INSERT INTO {table} VALUES (1, '{{1,2}}', '{{007,-1}}', NULL), (2, '{{}}', NULL, '{{}}'), "
                 "(3, NULL, '{}', '{NULL}')")
    options = {"cursor_column": "id", "primary_key": "id"}
    first = direct_load(table, table, action="create", **options)
    assert first.status == "succeeded", first.error
    assert lake_types(spark, table) == {"id": "bigint", "tags": "array<string>", "codes": "array<string>",
                                        "empty": "array<string>"}
    postgres.sql(f"INSERT INTO {table} VALUES (4, '{{a,\"b c\",NULL}}', '{{x,1.5e3}}', '{{z}}')")
    second = direct_load(table, table, **options)
    assert (second.status, second.inserted) == ("succeeded", 1), second.error
    rows = as_text(spark, table)
    assert rows == [
        {"id": 1, "tags": ["1", "2"], "codes": ["007", "-1"], "empty": None},
        {"id": 2, "tags": [], "codes": None, "empty": []},
        {"id": 3, "tags": None, "codes": [], "empty": [None]},
        {"id": 4, "tags": ["a", "b c", None], "codes": ["x", "1.5e3"], "empty": ["z"]},
    ]
    # The same table from an RDS export (arrays named a bare ARRAY), merged by key: nothing changes.
    versions = Versions(tmp_path, "shop", "public", table)
    bare = [col("id", "bigint"), Col("tags", "ARRAY", TEXT), Col("codes", "ARRAY", TEXT), Col("empty", "ARRAY", TEXT)]
    data = [(int(r[0]), r[1] or None, r[2] or None, r[3] or None)
            for r in source_rows(postgres, table, "id, tags::text, codes::text, empty::text")]
    merged = load(versions.export(bare, data), versions.target, table, action="merge", primary_key="id")
    assert merged.status == "succeeded", merged.error
    assert (merged.inserted, merged.updated, merged.deleted) == (0, 0, 0)
    assert as_text(spark, table) == rows


def test_a_money_array_loaded_directly_takes_an_rds_export_after(
        direct_load: Loader, load: Loader, postgres: PgServer, spark: Any, tmp_path: Path) -> None:
    table = "d_prices"
    postgres.sql(f"CREATE TABLE {table} (id bigint PRIMARY KEY, prices money[])")
    postgres.sql(f"INSERT INTO {table} VALUES (1, '{{1.50,1234,-0.25}}'), (2, '{{}}'), (3, NULL)")
    first = direct_load(table, table, action="create", cursor_column="id", primary_key="id")
    assert first.status == "succeeded", first.error
    assert lake_types(spark, table)["prices"] == "array<decimal(19,2)>"
    before = as_text(spark, table)
    assert before[0]["prices"] == ["1.50", "1234.00", "-0.25"]
    # The table switched to extract: export on AWS: RDS names the column a bare ARRAY, its values as PostgreSQL prints them.
    versions = Versions(tmp_path, "shop", "public", table)
    data = [(int(r[0]), r[1] or None) for r in source_rows(postgres, table, "id, prices::text")]
    assert data[0][1] == '{$1.50,"$1,234.00",-$0.25}'
    merged = load(versions.export([col("id", "bigint"), Col("prices", "ARRAY", TEXT)], data), versions.target, table,
                  action="merge", primary_key="id")
    assert merged.status == "succeeded", merged.error
    assert (merged.inserted, merged.updated, merged.deleted) == (0, 0, 0)
    assert as_text(spark, table) == before


def lake_notes(spark: Any, table: str) -> list[tuple[int, Any]]:
    return [(r["id"], r["note"]) for r in run_query(spark, f"SELECT id, note FROM lake.tests.{table} ORDER BY id, note")]


def test_an_append_across_a_column_dropped_and_added_again_loads_each_row_once(
        direct_load: Loader, postgres: PgServer, spark: Any) -> None:
    table = "d_readd"
    postgres.sql(f"CREATE TABLE {table} (id bigint, note text)")
    postgres.sql(f"INSERT INTO {table} SELECT g, 'n' || g FROM generate_series(1, 10) g")
    options = {"cursor_column": "id", "cursor_lookback": "5"}
    assert direct_load(table, table, action="create", **options).succeeded
    postgres.sql(f"ALTER TABLE {table} DROP COLUMN note")
    postgres.sql(f"INSERT INTO {table} SELECT g FROM generate_series(11, 20) g")
    dropped = direct_load(table, table, **options)
    assert (dropped.status, dropped.inserted) == ("succeeded", 10), dropped.error
    postgres.sql(f"ALTER TABLE {table} ADD COLUMN note text DEFAULT 'x'")
    postgres.sql(f"INSERT INTO {table} SELECT g, 'm' || g FROM generate_series(21, 30) g")
    added = direct_load(table, table, **options)
    assert (added.status, added.inserted) == ("succeeded", 10), added.error
    replay = direct_load(table, table, **options)
    assert (replay.status, replay.inserted) == ("succeeded", 0), replay.error
    assert lake_notes(spark, table) == ([(i, f"n{i}") for i in range(1, 11)] + [(i, None) for i in range(11, 21)]
                                        + [(i, f"m{i}") for i in range(21, 31)])


def test_a_column_added_again_with_another_type_fails_the_append_and_writes_nothing(
        direct_load: Loader, postgres: PgServer, spark: Any) -> None:
    table = "d_retype"
    postgres.sql(f"CREATE TABLE {table} (id bigint, note text)")
    postgres.sql(f"INSERT INTO {table} SELECT g, 'n' || g FROM generate_series(1, 10) g")
    options = {"cursor_column": "id", "cursor_lookback": "5"}
    assert direct_load(table, table, action="create", **options).succeeded
    postgres.sql(f"ALTER TABLE {table} DROP COLUMN note")
    postgres.sql(f"ALTER TABLE {table} ADD COLUMN note int")
    postgres.sql(f"INSERT INTO {table} SELECT g, g FROM generate_series(11, 20) g")
    refused = direct_load(table, table, **options)
    assert refused.error is not None and refused.error["class"] == "SchemaConflict", refused.error
    assert "column 'note' is string in the lake but int" in refused.error["message"]
    assert lake_notes(spark, table) == [(i, f"n{i}") for i in range(1, 11)]
    assert lake_types(spark, table) == {"id": "bigint", "note": "string"}


def test_an_append_across_a_widened_column_and_a_rename_by_case_loads_each_row_once(
        direct_load: Loader, postgres: PgServer, spark: Any) -> None:
    table = "d_widened"
    postgres.sql(f"CREATE TABLE {table} (id bigint, n int, note text, amount numeric(8,2))")
    postgres.sql(f"INSERT INTO {table} SELECT g, g, 'n' || g, g + 0.25 FROM generate_series(1, 10) g")
    options = {"cursor_column": "id", "cursor_lookback": "5"}
    assert direct_load(table, table, action="create", **options).succeeded
    postgres.sql(f"ALTER TABLE {table} ALTER COLUMN n TYPE bigint, ALTER COLUMN amount TYPE numeric(12,2)")
    postgres.sql(f'ALTER TABLE {table} RENAME COLUMN note TO "Note"')
    postgres.sql(f"INSERT INTO {table} SELECT g, g * 10000000000, 'n' || g, g + 0.25 FROM generate_series(11, 12) g")
    second = direct_load(table, table, **options)
    assert (second.status, second.inserted) == ("succeeded", 2), second.error
    assert lake_types(spark, table) == {"id": "bigint", "n": "bigint", "note": "string", "amount": "decimal(12,2)"}
    rows = run_query(spark, f"SELECT id, n, note, CAST(amount AS STRING) AS amount FROM lake.tests.{table} ORDER BY id")
    assert [(r["id"], r["n"], r["note"], r["amount"]) for r in rows] == (
        [(i, i, f"n{i}", f"{i}.25") for i in range(1, 11)] + [(i, i * 10000000000, f"n{i}", f"{i}.25") for i in (11, 12)])
