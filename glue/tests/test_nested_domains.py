"""Columns of a domain over a domain: exported by the embedded exporter with the base type under both.

Before, such a column arrived as an opaque USER-DEFINED type and was loaded as text; a lake table
created then keeps its text column (a value load never changes it), a new table gets the base type.
"""
from __future__ import annotations

from typing import Any

from conftest import Loader
from exportkit import Col, col
from scenario import Versions
from lakesync_glue.query import run_query

TEXT = "binary (UTF8)"


def lake_types(spark: Any, table: str) -> dict[str, str]:
    return {f.name: f.dataType.simpleString() for f in spark.table(f"lake.tests.{table}").schema.fields}


def test_a_new_table_takes_the_base_type_of_a_domain_over_a_domain(load: Loader, spark: Any, tmp_path: Any) -> None:
    versions = Versions(tmp_path, "shop", "public", "dom_new")
    cols = [col("id", "bigint"), Col("qty", "integer", TEXT, num_precision=32, domain_name="small_posint")]
    result = load(versions.export(cols, [(1, "5"), (2, None)]), versions.target, "dom_new", action="create",
                  primary_key="id")
    assert result.status == "succeeded", result.error
    assert lake_types(spark, "dom_new") == {"id": "bigint", "qty": "int"}
    assert result.warnings == []


def test_a_text_column_loaded_before_stays_text_until_a_rebuild(load: Loader, spark: Any, tmp_path: Any) -> None:
    versions = Versions(tmp_path, "shop", "public", "dom_old")
    old_cols = [col("id", "bigint"), Col("qty", "USER-DEFINED", TEXT)]
    old = load(versions.export(old_cols, [(1, "5")]), versions.target, "dom_old", action="create", primary_key="id")
    assert old.status == "succeeded", old.error
    assert lake_types(spark, "dom_old") == {"id": "bigint", "qty": "string"}
    cols = [col("id", "bigint"), Col("qty", "integer", TEXT, num_precision=32, domain_name="small_posint")]
    v2 = versions.export(cols, [(1, "6"), (2, "7")])
    merged = load(v2, versions.target, "dom_old", action="merge", primary_key="id")
    assert merged.status == "succeeded", merged.error
    assert lake_types(spark, "dom_old") == {"id": "bigint", "qty": "string"}
    assert run_query(spark, "SELECT id, qty FROM lake.tests.dom_old ORDER BY id") == [
        {"id": 1, "qty": "6"}, {"id": 2, "qty": "7"}]
    assert merged.warnings == ["column 'qty' (domain small_posint over integer) stays text (string) in the lake "
                               "table, as it was loaded before; rebuild the table from the export (lakesync rerun "
                               "shop --rebuild public.dom_old) to load it as int"]
    rebuilt = load(v2, versions.target, "dom_old", action="merge", primary_key="id", rebuild="true")
    assert rebuilt.status == "succeeded", rebuilt.error
    assert lake_types(spark, "dom_old")["qty"] == "int"
