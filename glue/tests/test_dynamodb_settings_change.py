"""Attributes declared or excluded after the lake table exists reach every row at the next merge, not only
the items the windows change: an excluded attribute leaves `_attributes` everywhere, a declared one is
moved into its column, typed and checked exactly as a load of the item would."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dynamodbkit import N, S, DdbLoad, change, ddb_load, export_entry, item, write_export  # noqa: F401 - the fixture
from lakesync_glue.query import run_query
from scenario import current_snapshot

KEY = [("pk", "S"), ("sk", "N")]
T0, T1, T2 = "2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z", "2025-01-01T02:00:00Z"
HASH_ENV = "LAKESYNC_TEST_DDB_SETTLE_KEY"
# The new settings: email excluded (PII), status declared and hashed, total declared and renamed.
ATTRS = {"status": "string", "total": "decimal(12,2)"}
POLICIES = {"email": {"exclude": True}, "status": {"hash": True}, "total": {"rename": "amount"}}


def k(sk: int) -> dict[str, Any]:
    return {"pk": S("a"), "sk": N(sk)}


def img(sk: int, status: str, total: str, **extra: Any) -> dict[str, Any]:
    return {**k(sk), "email": S(f"user{sk}@example.com"), "status": S(status), "total": N(total),
            "note": S(f"n{sk}"), **extra}


def by_key(spark: Any, table: str) -> dict[str, dict[str, Any]]:
    rows = run_query(spark, f"SELECT * FROM lake.tests.{table}")
    return {str(r["sk"]): {**r, "_attributes": json.loads(r["_attributes"])} for r in rows}


def test_excluded_and_declared_attributes_reach_rows_the_windows_leave_alone(
        ddb_load: DdbLoad, spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HASH_ENV, "k3y")
    items = {i: img(i, "new", f"{i}.5") for i in range(5)}
    items[4]["status"] = {"NULL": True}
    full = export_entry("s0", write_export(tmp_path, "s0", [item(v) for v in items.values()]), T0)
    assert ddb_load("Settle", "ddb_settle", [full], KEY, {}).status == "succeeded"
    assert all("email" in r["_attributes"] for r in by_key(spark, "ddb_settle").values())

    # One item changes, one is deleted; items 2, 3 and 4 are in no window.
    items[0] = img(0, "paid", "10")
    w1 = [change(k(0), items[0], 100), change(k(1), None, 110)]
    del items[1]
    window = export_entry("s1", write_export(tmp_path, "s1", w1), T1, "INCREMENTAL", T0)
    merged = ddb_load("Settle", "ddb_settle", [window], KEY, ATTRS, action="merge",
                      column_policies=json.dumps(POLICIES), hash_key_env=HASH_ENV)
    assert merged.status == "succeeded", merged.error
    assert (merged.inserted, merged.updated, merged.deleted, merged.rowCountAfter) == (0, 4, 1, 4)
    assert len(merged.warnings) == 1, merged.warnings
    assert "3 row(s)" in merged.warnings[0] and "'email' removed" in merged.warnings[0]
    assert "'status', 'total' moved into their columns" in merged.warnings[0]

    # Every row is what a FULL load of the same items with the new settings gives.
    reference = export_entry("r0", write_export(tmp_path, "r0", [item(v) for v in items.values()]), T1)
    fresh = ddb_load("Settle", "ddb_settle_ref", [reference], KEY, ATTRS, column_policies=json.dumps(POLICIES),
                     hash_key_env=HASH_ENV)
    assert fresh.status == "succeeded", fresh.error
    lake, expected = by_key(spark, "ddb_settle"), by_key(spark, "ddb_settle_ref")
    assert lake == expected
    assert "example.com" not in json.dumps(lake, default=str)
    assert lake["2"]["amount"] is not None and lake["2"]["status"] is not None and lake["4"]["status"] is None
    assert lake["2"]["_attributes"] == {"note": {"S": "n2"}}

    # Nothing left to move: the next merge of an empty window changes no row and warns of nothing (its
    # commit only records the export time the table reached).
    empty = export_entry("s2", write_export(tmp_path, "s2", [], incremental=True), T2, "INCREMENTAL", T1)
    again = ddb_load("Settle", "ddb_settle", [empty], KEY, ATTRS, action="merge",
                     column_policies=json.dumps(POLICIES), hash_key_env=HASH_ENV)
    assert again.status == "succeeded", again.error
    assert (again.inserted, again.updated, again.deleted, again.warnings) == (0, 0, 0, [])
    assert by_key(spark, "ddb_settle") == lake


def test_a_moved_value_its_column_cannot_hold_fails_or_is_nulled_as_a_load_would(
        ddb_load: DdbLoad, spark: Any, tmp_path: Path) -> None:
    items = [{**k(1), "total": N("1.25")}, {**k(2), "total": S("n/a")}]
    full = export_entry("b0", write_export(tmp_path, "b0", [item(v) for v in items]), T0)
    assert ddb_load("SettleBad", "ddb_settle_bad", [full], KEY, {}).status == "succeeded"
    before = current_snapshot(spark, "ddb_settle_bad")
    window = export_entry("b1", write_export(tmp_path, "b1", [], incremental=True), T1, "INCREMENTAL", T0)

    failed = ddb_load("SettleBad", "ddb_settle_bad", [window], KEY, {"total": "decimal(12,2)"}, action="merge")
    assert failed.status == "failed" and failed.error is not None
    assert failed.error["class"] == "AttributeTypeMismatch", failed.error
    assert "'total' has 1 value(s)" in failed.error["message"] and "_attributes of rows" in failed.error["message"]
    assert current_snapshot(spark, "ddb_settle_bad") == before

    nulled = ddb_load("SettleBad", "ddb_settle_bad", [window], KEY, {"total": "decimal(12,2)"}, action="merge",
                      column_policies=json.dumps({"total": {"onInvalid": "null"}}))
    assert nulled.status == "succeeded", nulled.error
    assert (nulled.updated, nulled.nulledValues) == (2, {"total": 1})
    rows = by_key(spark, "ddb_settle_bad")
    assert (str(rows["1"]["total"]), rows["2"]["total"]) == ("1.25", None)
    assert rows["1"]["_attributes"] == {} and rows["2"]["_attributes"] == {}
