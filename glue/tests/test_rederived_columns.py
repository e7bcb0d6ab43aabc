"""A column whose values a load derives differently from the earlier loads' (hash turned on or off, another hash
key, another type or onInvalid): the lake rows of the lookback window hold the old values, so an append must not
take them for new rows."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import Loader, PgServer
from exportkit import Col, col
from lakesync_glue import derivations
from lakesync_glue.pgtext import hmac_hex
from lakesync_glue.pgtypes import ColumnMapping
from lakesync_glue.policies import ColumnPolicy
from lakesync_glue.query import run_query
from scenario import Versions, snapshots

KEY_ENV = "LAKESYNC_TEST_REDERIVED_KEY"
DERIVATIONS = "lakesync.column-derivations"


def lake_ids(spark: Any, table: str) -> list[int]:
    return [r["id"] for r in run_query(spark, f"SELECT id FROM lake.tests.{table} ORDER BY id")]


def derivations_property(spark: Any, table: str) -> dict[str, list[str]] | None:
    found = [r for r in spark.sql(f"SHOW TBLPROPERTIES lake.tests.{table}").collect() if r[0] == DERIVATIONS]
    return json.loads(found[0][1]) if found else None


class Steps:
    """Export after export of one append table (cursor id, lookback 5), each holding the ids 1..last."""

    def __init__(self, load: Loader, tmp_path: Path, table: str, columns: list[Col], row: Any) -> None:
        self.load, self.table, self.columns, self.row = load, table, columns, row
        self.log = Versions(tmp_path, "shop", "public", table)

    def __call__(self, last: int, **policies: Any) -> int:
        rows = [self.row(i) for i in range(1, last + 1)]
        result = self.load(self.log.export(self.columns, rows), self.log.target, self.table, action="incremental",
                           cursor_column="id", cursor_lookback="5", hash_key_env=KEY_ENV,
                           column_policies=json.dumps(policies))
        assert result.status == "succeeded", result.error
        return int(result.inserted)


EVENTS = [col("id", "bigint"), col("email", "text"), col("tag", "text")]


def event(i: int) -> tuple[Any, ...]:
    return (i, f"u{i}@x.io", f"t{i % 3}")


def test_turning_hash_on_and_off_and_changing_its_key_loads_each_row_once(
        load: Loader, spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "first key")
    step = Steps(load, tmp_path, "rederive_hash", EVENTS, event)
    assert step(10) == 10
    assert step(20, email={"hash": True}) == 10, "ids 5..10 hold the plain email: not new"
    assert step(20, email={"hash": True}) == 0
    monkeypatch.setenv(KEY_ENV, "second key")
    assert step(30, email={"hash": True}) == 10, "ids 15..20 hold the first key's hash: not new"
    assert step(40) == 10, "ids 25..30 hold the second key's hash: not new"
    assert step(40) == 0
    assert lake_ids(spark, "rederive_hash") == list(range(1, 41))
    recorded = derivations_property(spark, "rederive_hash")
    first, second = (f"hash:{derivations.key_fingerprint(k)}" for k in (b"first key", b"second key"))
    assert recorded == {"email": sorted([first, second, "plain"])}
    assert "first key" not in json.dumps(recorded) and "second key" not in json.dumps(recorded), "never the key itself"
    assert snapshots(spark, "rederive_hash")[-1]["summary"][DERIVATIONS] == json.dumps(recorded)


def test_rows_of_several_derivations_in_one_window_and_a_replay_load_once(
        load: Loader, spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "k")
    step = Steps(load, tmp_path, "rederive_window", EVENTS, event)
    assert step(10) == 10
    assert step(12, email={"hash": True}) == 2
    assert step(14) == 2  # the window (ids 9..14) holds plain, hashed and plain rows
    assert step(16, email={"hash": True}) == 2
    assert step(16, email={"hash": True}) == 0, "a replay adds nothing"
    assert step(16) == 0
    assert lake_ids(spark, "rederive_window") == list(range(1, 17))


CODES = [col("code", "text"), col("email", "text")]


@pytest.mark.parametrize("rebuild", [False, True])
def test_a_replace_after_hash_is_turned_on_or_off_or_its_key_changes_deletes_no_rows(
        load: Loader, spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rebuild: bool) -> None:
    """A table without a key is replaced from each export: rows compared on a column whose values the load derives
    otherwise than the lake's rows hold would all look deleted and inserted, and trip the delete guard."""
    table = f"rederive_replace_{int(rebuild)}"
    versions = Versions(tmp_path, "shop", "public", table)
    rows = [("a", "a@x.io"), ("b", "b@x.io"), ("b", "b@x.io"), ("c", "c@x.io")]
    options = {"rebuild": "true"} if rebuild else {}

    def replace(data: list[tuple[str, str]], **policies: Any) -> Any:
        result = load(versions.export(CODES, data), versions.target, table, action="replace", hash_key_env=KEY_ENV,
                      column_policies=json.dumps(policies), **options)
        assert result.status == "succeeded", result.error
        return result

    def emails() -> list[tuple[str, str]]:
        return sorted((r["code"], r["email"]) for r in run_query(spark, f"SELECT * FROM lake.tests.{table}"))

    monkeypatch.setenv(KEY_ENV, "first key")
    assert replace(rows).action == "create"
    hashed = replace([*rows, ("d", "d@x.io")], email={"hash": True})
    assert (hashed.action, hashed.committed, hashed.inserted, hashed.deleted) == ("replace", True, 1, 0)
    expected = sorted([*rows, ("d", "d@x.io")])
    assert emails() == sorted((c, hmac_hex(b"first key", e)) for c, e in expected)
    again = replace([*rows, ("d", "d@x.io")], email={"hash": True})
    assert (again.action, again.committed) == ("none", False)
    monkeypatch.setenv(KEY_ENV, "second key")
    rotated = replace([*rows, ("d", "d@x.io")], email={"hash": True})
    assert (rotated.committed, rotated.inserted, rotated.deleted) == (True, 0, 0)
    assert emails() == sorted((c, hmac_hex(b"second key", e)) for c, e in expected)
    plain = replace(rows)
    assert (plain.committed, plain.inserted, plain.deleted) == (True, 0, 1)
    assert emails() == sorted(rows)


MEASURES = [col("id", "bigint"), col("day", "date"), col("r", "real")]


def measure(i: int) -> tuple[Any, ...]:
    return (i, "infinity" if i % 2 else f"2024-01-{i % 28 + 1:02d}", 0.1 * i)


def test_changing_on_invalid_or_a_type_loads_each_row_once(load: Loader, spark: Any, tmp_path: Path) -> None:
    step = Steps(load, tmp_path, "rederive_types", MEASURES, measure)
    assert step(10) == 10
    assert step(20, day={"onInvalid": "null"}) == 10, "ids 5..10 hold 9999-12-31 where the source now gives NULL"
    assert step(30, day={"onInvalid": "null"}, r={"type": "double"}) == 10, "ids 15..20 hold r as a float"
    assert step(30, day={"onInvalid": "null"}, r={"type": "double"}) == 0
    assert lake_ids(spark, "rederive_types") == list(range(1, 31))


def test_a_table_without_a_record_is_taken_to_hold_the_loads_derivations(
        load: Loader, spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A table loaded before loads recorded derivations: its commits expired and its property gone."""
    monkeypatch.setenv(KEY_ENV, "k")
    step = Steps(load, tmp_path, "rederive_unrecorded", EVENTS, event)
    assert step(10, email={"hash": True}) == 10
    table = "tests.rederive_unrecorded"
    spark.sql(f"CALL lake.system.rewrite_data_files(table => '{table}', options => map('rewrite-all', 'true'))").collect()
    spark.sql(f"CALL lake.system.expire_snapshots(table => '{table}', older_than => TIMESTAMP '9999-01-01 00:00:00', "
              "retain_last => 1)").collect()
    spark.sql(f"ALTER TABLE lake.{table} UNSET TBLPROPERTIES ('{DERIVATIONS}')").collect()
    assert derivations_property(spark, "rederive_unrecorded") is None
    assert step(20, email={"hash": True}) == 10
    assert derivations_property(spark, "rederive_unrecorded") == {"email": [f"hash:{derivations.key_fingerprint(b'k')}"]}
    assert step(30) == 10, "ids 15..20 hold the hash: not new"
    assert lake_ids(spark, "rederive_unrecorded") == list(range(1, 31))


def test_a_direct_append_after_hash_is_turned_on_loads_each_row_once(
        direct_load: Loader, postgres: PgServer, spark: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "k")
    postgres.sql("CREATE TABLE d_rederive (id bigint, email text)")
    postgres.sql("INSERT INTO d_rederive SELECT g, 'u' || g FROM generate_series(1, 10) g")
    options = {"cursor_column": "id", "cursor_lookback": "5", "hash_key_env": KEY_ENV}
    assert direct_load("d_rederive", "d_rederive", action="create", **options).succeeded
    postgres.sql("INSERT INTO d_rederive SELECT g, 'u' || g FROM generate_series(11, 20) g")
    hashed = direct_load("d_rederive", "d_rederive", column_policies=json.dumps({"email": {"hash": True}}), **options)
    assert (hashed.status, hashed.inserted) == ("succeeded", 10), hashed.error
    again = direct_load("d_rederive", "d_rederive", column_policies=json.dumps({"email": {"hash": True}}), **options)
    assert (again.status, again.inserted) == ("succeeded", 0), again.error
    assert lake_ids(spark, "d_rederive") == list(range(1, 21))


def test_derivations_name_what_changes_values_and_accumulate() -> None:
    key = b"secret"
    assert derivations.derivation(ColumnPolicy("c"), "text", None) == "plain"
    assert derivations.derivation(ColumnPolicy("c", rename="d"), "text", None) == "plain", "a rename keeps the values"
    assert derivations.derivation(ColumnPolicy("c", on_invalid="clamp"), "date", None) == "plain", "the default"
    assert derivations.derivation(ColumnPolicy("c", on_invalid="null"), "date", None) == "type:default;onInvalid:null"
    assert derivations.derivation(ColumnPolicy("c", type="double"), "numeric", None) == "type:double;onInvalid:fail"
    hashed = derivations.derivation(ColumnPolicy("c", hash=True), "text", key)
    assert hashed == f"hash:{derivations.key_fingerprint(key)}" and "secret" not in hashed and len(hashed) == 21
    before = {"a": ["hash:1", "plain"]}
    now = {"a": "hash:1", "b": "plain", "c": "hash:1"}
    assert derivations.rederived(before, now, ["a", "b", "c"]) == {"a", "c"}
    assert derivations.rederived(None, now, ["a", "b", "c"]) == set(), "no record: the load's own derivations"
    assert derivations.after_load(before, now, {"a", "b", "c"}, rewrites=False) == {
        "a": ["hash:1", "plain"], "c": ["hash:1", "plain"]}
    assert derivations.after_load(before, now, {"a", "b"}, rewrites=False) == {
        "a": ["hash:1", "plain"], "c": ["hash:1"]}, "a new column holds no older rows"
    assert derivations.after_load(before, {"b": "plain"}, {"a", "b"}, rewrites=False) == before, "an unwritten one keeps its record"
    assert derivations.after_load(before, now, {"a", "b", "c"}, rewrites=True) == {"a": ["hash:1"], "c": ["hash:1"]}
    assert derivations.after_load(None, now, {"a", "b", "c"}, rewrites=False) == {"a": ["hash:1"], "c": ["hash:1"]}
    assert derivations.union({"a": ["hash:1"]}, {}) == {"a": ["hash:1", "plain"]}
    assert derivations.union(None, {}) == {}
    assert derivations.parse("[]", "t") is None and derivations.parse(None, "t") is None


SAME = [col("id", "integer"), col("email", "text"), col("tag", "text")]


def same(i: int) -> tuple[Any, ...]:
    return (i, "same@x.io", "t")


def test_a_cursor_whose_type_changed_still_tells_rows_apart(load: Loader, spark: Any, tmp_path: Path) -> None:
    """Rows equal but for the cursor: the cursor is never compared relaxed, or a lake row the source deleted
    would take the place of a new row."""
    step = Steps(load, tmp_path, "rederive_cursor", SAME, same)
    assert step(10) == 10
    rows = [same(i) for i in range(1, 13) if i != 9]  # row 9 deleted in the source since
    result = step.load(step.log.export(SAME, rows), step.log.target, step.table, action="incremental",
                       cursor_column="id", cursor_lookback="5", column_policies=json.dumps({"id": {"type": "bigint"}}))
    assert (result.status, result.inserted) == ("succeeded", 2), result.error
    assert lake_ids(spark, "rederive_cursor") == list(range(1, 13))


def test_a_load_that_commits_nothing_still_records_what_the_rows_hold(
        load: Loader, spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The property is the record left once snapshot expiry removes the commits: a load that finds nothing new
    (a retry of one whose commit landed before its property was set) sets it too."""
    monkeypatch.setenv(KEY_ENV, "k")
    step = Steps(load, tmp_path, "rederive_stale", EVENTS, event)
    assert step(10) == 10
    assert step(20, email={"hash": True}) == 10
    table = "tests.rederive_stale"
    spark.sql(f"ALTER TABLE lake.{table} SET TBLPROPERTIES ('{DERIVATIONS}' = '{{}}')").collect()  # the lost write
    assert step(20, email={"hash": True}) == 0
    hashed = {"email": sorted([f"hash:{derivations.key_fingerprint(b'k')}", "plain"])}
    assert derivations_property(spark, "rederive_stale") == hashed
    spark.sql(f"CALL lake.system.rewrite_data_files(table => '{table}', options => map('rewrite-all', 'true'))").collect()
    spark.sql(f"CALL lake.system.expire_snapshots(table => '{table}', older_than => TIMESTAMP '9999-01-01 00:00:00', "
              "retain_last => 1)").collect()
    assert step(30) == 10, "ids 15..20 hold the hash: not new"
    assert lake_ids(spark, "rederive_stale") == list(range(1, 31))


def test_an_arrays_default_on_invalid_is_its_elements() -> None:
    days = ColumnMapping("days", "date[]", "string", udt_name="_date")
    assert derivations.current([days], ["days"], {"days": ColumnPolicy("days", on_invalid="clamp")}, None) == {
        "days": "plain"}, "clamp is a date element's default"
    assert derivations.current([days], ["days"], {"days": ColumnPolicy("days", on_invalid="null")}, None) == {
        "days": "type:default;onInvalid:null"}
