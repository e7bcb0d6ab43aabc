"""INCREMENTAL exports of a DynamoDB table merged window after window: puts, updates, deletes, exact counts."""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from dynamodbkit import N, S, DdbLoad, change, ddb_load, export_entry, item, write_export  # noqa: F401 - the fixture
from lakesync_glue.query import run_query
from scenario import current_snapshot

KEY = [("pk", "S"), ("sk", "N")]
ATTRS = {"total": "decimal(10,2)", "status": "string"}
T0, T1, T2, T3 = ("2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z", "2025-01-01T02:00:00Z", "2025-01-01T03:00:00Z")


def k(pk: str, sk: int) -> dict[str, Any]:
    return {"pk": S(pk), "sk": N(sk)}


def img(pk: str, sk: int, total: str, status: str, **extra: Any) -> dict[str, Any]:
    return {**k(pk, sk), "total": N(total), "status": S(status), **extra}


def expected_rows(items: dict[tuple[str, int], dict[str, Any]]) -> list[dict[str, Any]]:
    """The lake rows the items should give (totals with the declared scale)."""
    out = []
    for (pk, sk), it in sorted(items.items()):
        rest = {a: v for a, v in it.items() if a not in ("pk", "sk", "total", "status")}
        out.append({"pk": pk, "sk": str(sk), "total": f"{float(it['total']['N']):.2f}", "status": it["status"]["S"],
                    "_attributes": rest})
    return out


def lake_rows(spark: Any, table: str) -> list[dict[str, Any]]:
    rows = run_query(spark, f"SELECT * FROM lake.tests.{table} ORDER BY pk, sk")
    return [{**r, "_attributes": json.loads(r["_attributes"])} for r in rows]


def test_windows_apply_in_order_and_the_latest_record_wins(ddb_load: DdbLoad, spark: Any, tmp_path: Path) -> None:
    state = {("a", i): img("a", i, f"{i}.5", "new") for i in range(1, 7)}
    full = export_entry("f0", write_export(tmp_path, "f0", [item(v) for v in state.values()]), T0)
    created = ddb_load("Orders", "ddb_merge", [full], KEY, ATTRS)
    assert created.status == "succeeded", created.error
    assert lake_rows(spark, "ddb_merge") == expected_rows(state)

    # Window 1: a put, an update, a delete, and a new attribute on an item; one key changed twice (last wins).
    w1 = [
        change(k("b", 1), img("b", 1, "10", "new"), 1000),
        change(k("a", 1), img("a", 1, "1.75", "paid"), 1100, old=state[("a", 1)]),
        change(k("a", 2), None, 1200, old=state[("a", 2)]),
        change(k("a", 3), img("a", 3, "3.5", "new", gift={"BOOL": True}), 1300),
        change(k("a", 4), img("a", 4, "4.5", "late"), 1500),
        change(k("a", 4), img("a", 4, "4.5", "early"), 1400),  # an older write listed after the newer one
    ]
    # Window 2: the deleted item comes back, an item put in window 1 is deleted, an update, an item unchanged.
    w2 = [
        change(k("a", 2), img("a", 2, "22", "back"), 2000),
        change(k("b", 1), None, 2100),
        change(k("a", 5), img("a", 5, "5.25", "paid"), 2200),
        change(k("a", 6), img("a", 6, "6.5", "new"), 2300),  # same as the lake: not an update
        change(k("zz", 9), None, 2400),  # a delete of a key the lake never had
    ]
    # Window 3: a put that window 2 also holds an older image of, and another delete.
    w3 = [change(k("a", 5), img("a", 5, "5.5", "shipped"), 3000), change(k("a", 6), None, 3100)]
    exports = [
        export_entry("i1", write_export(tmp_path, "i1", w1), T1, "INCREMENTAL", T0, len(w1)),
        export_entry("i2", write_export(tmp_path, "i2", w2, manifest=False, suffix=".gz"), T2, "INCREMENTAL", T1),
        export_entry("i3", write_export(tmp_path, "i3", w3, files=1), T3, "INCREMENTAL", T2),
    ]
    merged = ddb_load("Orders", "ddb_merge", exports[:2], KEY, ATTRS, action="merge")
    assert merged.status == "succeeded", merged.error
    # after windows 1-2: a2 deleted then back (an update of the lake row), b1 put then deleted (nothing),
    # a1 a3 a4 a5 updated, a6 unchanged
    state[("a", 1)] = img("a", 1, "1.75", "paid")
    state[("a", 3)] = img("a", 3, "3.5", "new", gift={"BOOL": True})
    state[("a", 4)] = img("a", 4, "4.5", "late")
    state[("a", 5)] = img("a", 5, "5.25", "paid")
    state[("a", 2)] = img("a", 2, "22", "back")
    assert (merged.action, merged.rowsRead, merged.inserted, merged.updated, merged.deleted) == ("merge", 11, 0, 5, 0)
    assert lake_rows(spark, "ddb_merge") == expected_rows(state)
    assert merged.extract == "dynamodb" and merged.committed

    last = ddb_load("Orders", "ddb_merge", [exports[2]], KEY, ATTRS, action="merge")
    assert last.status == "succeeded", last.error
    state[("a", 5)] = img("a", 5, "5.5", "shipped")
    del state[("a", 6)]
    assert (last.rowsRead, last.inserted, last.updated, last.deleted, last.rowCountAfter) == (2, 0, 1, 1, 5)
    assert lake_rows(spark, "ddb_merge") == expected_rows(state)

    # The same export again: nothing to change, nothing committed.
    replay = ddb_load("Orders", "ddb_merge", [exports[2]], KEY, ATTRS, action="merge")
    assert replay.status == "succeeded", replay.error
    assert (replay.action, replay.committed, replay.inserted, replay.updated, replay.deleted) == ("none", False, 0, 0, 0)
    assert replay.snapshotId == last.snapshotId == current_snapshot(spark, "ddb_merge")
    # An export older than the lake's is refused.
    older = ddb_load("Orders", "ddb_merge", exports[:2], KEY, ATTRS, action="merge")
    assert older.status == "failed" and older.error is not None and older.error["class"] == "OlderExport"


def test_merged_deletes_stay_under_the_delete_guard(ddb_load: DdbLoad, spark: Any, tmp_path: Path) -> None:
    state = [img("g", i, "1", "x") for i in range(4)]
    ddb_load("Orders", "ddb_mguard", [export_entry("g0", write_export(tmp_path, "g0", [item(v) for v in state]), T0)],
             KEY, ATTRS)
    window = [change(k("g", i), None, 10 + i) for i in range(3)]
    exports = [export_entry("g1", write_export(tmp_path, "g1", window), T1, "INCREMENTAL", T0)]
    before = current_snapshot(spark, "ddb_mguard")
    guarded = ddb_load("Orders", "ddb_mguard", exports, KEY, ATTRS, action="merge")
    assert guarded.status == "failed" and guarded.error is not None and guarded.error["class"] == "DeleteGuard"
    assert current_snapshot(spark, "ddb_mguard") == before
    approved = ddb_load("Orders", "ddb_mguard", exports, KEY, ATTRS, action="merge", approve_deletes="true")
    assert (approved.status, approved.deleted, approved.rowCountAfter) == ("succeeded", 3, 1)


def test_incremental_exports_do_not_create_a_table(ddb_load: DdbLoad, spark: Any, tmp_path: Path) -> None:
    window = [change(k("n", 1), img("n", 1, "1", "x"), 1)]
    exports = [export_entry("n1", write_export(tmp_path, "n1", window), T1, "INCREMENTAL", T0)]
    result = ddb_load("Orders", "ddb_nofull", exports, KEY, ATTRS, action="merge")
    assert result.status == "failed" and result.error is not None and result.error["class"] == "InvalidArgument"
    assert "FULL" in result.error["message"]
    # The command as `lakesync rerun` takes it (--rebuild names the tables).
    assert "--rebuild dynamodb.Orders" in result.error["message"], result.error["message"]


def test_incremental_windows_that_leave_a_gap_after_the_lake_are_refused(ddb_load: DdbLoad, spark: Any,
                                                                         tmp_path: Path) -> None:
    """The lake holds the changes up to T0; a window from T1 would leave those of [T0, T1) in no export."""
    ddb_load("Orders", "ddb_gap", [export_entry("h0", write_export(tmp_path, "h0", [item(img("h", 1, "1", "x"))]), T0)],
             KEY, ATTRS)
    before = current_snapshot(spark, "ddb_gap")
    late = [export_entry("h2", write_export(tmp_path, "h2", [change(k("h", 2), img("h", 2, "2", "y"), 1)]), T2,
                         "INCREMENTAL", T1)]
    refused = ddb_load("Orders", "ddb_gap", late, KEY, ATTRS, action="merge")
    assert refused.status == "failed" and refused.error is not None and refused.error["class"] == "InvalidArgument"
    assert (f"holds the changes up to {T0} (export h0), but this load's first INCREMENTAL window starts at {T1}: "
            "the changes between are in no export") in refused.error["message"], refused.error["message"]
    assert "--rebuild dynamodb.Orders" in refused.error["message"]
    assert current_snapshot(spark, "ddb_gap") == before

    # The window that starts where the lake is loads.
    on_time = [export_entry("h1", write_export(tmp_path, "h1", [change(k("h", 2), img("h", 2, "2", "y"), 1)]), T1,
                            "INCREMENTAL", T0)]
    loaded = ddb_load("Orders", "ddb_gap", on_time, KEY, ATTRS, action="merge")
    assert (loaded.status, loaded.inserted) == ("succeeded", 1), loaded.error


def test_a_key_attribute_named_with_a_comma_loads_and_merges(ddb_load: DdbLoad, spark: Any, tmp_path: Path) -> None:
    """DynamoDB names may hold any character: the key comes from --dynamodb_key, never from a comma-joined
    --primary_key (lakesync leaves that out for DynamoDB loads)."""
    key = [("order,id", "S"), ("line", "N")]
    full = [item({"order,id": S(f"o{i}"), "line": N(1), "qty": N(i)}) for i in range(3)]
    created = ddb_load("Commas", "ddb_comma_key", [export_entry("c0", write_export(tmp_path, "c0", full), T0)],
                       key, {"qty": "bigint"}, primary_key="")
    assert created.status == "succeeded", created.error
    w1 = [change({"order,id": S("o1"), "line": N(1)}, {"order,id": S("o1"), "line": N(1), "qty": N(10)}, 100),
          change({"order,id": S("o2"), "line": N(1)}, None, 110)]
    window = export_entry("c1", write_export(tmp_path, "c1", w1), T1, "INCREMENTAL", T0)
    merged = ddb_load("Commas", "ddb_comma_key", [window], key, {"qty": "bigint"}, action="merge", primary_key="")
    assert merged.status == "succeeded", merged.error
    assert (merged.inserted, merged.updated, merged.deleted, merged.rowCountAfter) == (0, 1, 1, 2)
    rows = run_query(spark, "SELECT * FROM lake.tests.ddb_comma_key ORDER BY qty")
    assert [(list(r.values())[0], r["qty"]) for r in rows] == [("o0", 0), ("o1", 10)]


def test_a_key_attribute_the_lake_lacks_is_refused_before_any_write(ddb_load: DdbLoad, spark: Any, tmp_path: Path) -> None:
    """A rename added to a key attribute: no lake row has the new column, so every upsert would be a new row."""
    state = {("a", i): img("a", i, f"{i}.5", "new") for i in range(1, 3)}
    full = export_entry("f0", write_export(tmp_path, "f0", [item(v) for v in state.values()]), T0)
    assert ddb_load("Orders", "ddb_renamed_key", [full], KEY, ATTRS).status == "succeeded"
    before = current_snapshot(spark, "ddb_renamed_key")
    w1 = [change(k("a", 1), img("a", 1, "1.75", "paid"), 1100, old=state[("a", 1)])]
    window = export_entry("i1", write_export(tmp_path, "i1", w1), T1, "INCREMENTAL", T0, len(w1))
    renamed = ddb_load("Orders", "ddb_renamed_key", [window], KEY, ATTRS, action="merge",
                       column_policies=json.dumps({"pk": {"rename": "order_pk"}}))
    assert renamed.error is not None and renamed.error["class"] == "SchemaConflict", renamed.error
    assert "primary key column 'order_pk' is not in the lake table tests.ddb_renamed_key" in renamed.error["message"]
    assert current_snapshot(spark, "ddb_renamed_key") == before
    assert [r["pk"] for r in lake_rows(spark, "ddb_renamed_key")] == ["a", "a"]


def test_an_update_to_a_key_the_lake_repeats_fails_without_changing_the_schema(ddb_load: DdbLoad, spark: Any,
                                                                                tmp_path: Path) -> None:
    state = {("a", i): img("a", i, f"{i}.5", "new") for i in range(1, 3)}
    full = export_entry("f0", write_export(tmp_path, "f0", [item(v) for v in state.values()]), T0)
    assert ddb_load("Orders", "ddb_repeated_key", [full], KEY, ATTRS).status == "succeeded"
    spark.sql("INSERT INTO lake.tests.ddb_repeated_key SELECT * FROM lake.tests.ddb_repeated_key WHERE pk = 'a' AND sk = 1"
              ).collect()
    before = current_snapshot(spark, "ddb_repeated_key")
    columns_before = [f.name for f in spark.table("lake.tests.ddb_repeated_key").schema.fields]
    # The window updates the repeated key, and a newly declared attribute adds a column.
    w1 = [change(k("a", 1), img("a", 1, "1.75", "paid", note=S("n")), 1100, old=state[("a", 1)])]
    window = export_entry("i1", write_export(tmp_path, "i1", w1), T1, "INCREMENTAL", T0, len(w1))
    refused = ddb_load("Orders", "ddb_repeated_key", [window], KEY, {**ATTRS, "note": "string"}, action="merge")
    assert refused.error is not None and refused.error["class"] == "DuplicateKeys", refused.error
    assert current_snapshot(spark, "ddb_repeated_key") == before
    assert [f.name for f in spark.table("lake.tests.ddb_repeated_key").schema.fields] == columns_before


def newest_commit_lineage(spark: Any, table: str) -> tuple[str | None, str | None]:
    """The export id and export time of the lake table's newest snapshot (what lakesync plans the next windows from)."""
    rows = run_query(spark, f"SELECT summary['lakesync.export-id'] AS export_id, summary['lakesync.snapshot-time'] AS t "
                            f"FROM lake.tests.{table}.snapshots ORDER BY committed_at DESC LIMIT 1")
    return rows[0]["export_id"], rows[0]["t"]


def test_a_window_that_changes_nothing_still_commits_the_export_time_it_reached(ddb_load: DdbLoad, spark: Any,
                                                                                tmp_path: Path) -> None:
    """A quiet table: the next cycle's windows start where this one ended, not at the last window with changes."""
    full = export_entry("q0", write_export(tmp_path, "q0", [item(img("q", 1, "1", "x"))]), T0)
    assert ddb_load("Orders", "ddb_quiet", [full], KEY, ATTRS).status == "succeeded"
    # An unchanged image (DynamoDB lists an item written with the same values) and a delete of a key the lake lacks.
    quiet = [change(k("q", 1), img("q", 1, "1", "x"), 100), change(k("q", 9), None, 110)]
    window = export_entry("q1", write_export(tmp_path, "q1", quiet), T1, "INCREMENTAL", T0)
    merged = ddb_load("Orders", "ddb_quiet", [window], KEY, ATTRS, action="merge")
    assert merged.status == "succeeded", merged.error
    assert (merged.inserted, merged.updated, merged.deleted, merged.rowCountAfter) == (0, 0, 0, 1)
    assert newest_commit_lineage(spark, "ddb_quiet") == ("q1", T1)
    assert merged.committed and merged.snapshotId == current_snapshot(spark, "ddb_quiet")
    # The same window again: the history already holds it, so nothing more is committed.
    replay = ddb_load("Orders", "ddb_quiet", [window], KEY, ATTRS, action="merge")
    assert (replay.status, replay.action, replay.committed, replay.snapshotId) == ("succeeded", "none", False,
                                                                                    merged.snapshotId)


def test_attributes_named_like_the_loads_own_columns_load_and_merge(ddb_load: DdbLoad, spark: Any,
                                                                    tmp_path: Path) -> None:
    """DynamoDB names may be anything, including names the load uses for its own columns while it
    reads the exports (`__del`, `__w`, `__ts`, `__rest`, `__broken`, `__a0`, ...): each is loaded into
    its column, and deletes and updates of the window still apply."""
    key = [("pk", "S"), ("__ts", "N")]
    attrs = {"__del": "boolean", "__W": "bigint", "__rest": "string", "__broken": "string", "__a0": "string",
             "__rank": "string", "__keys": "string", "__image": "string"}

    def it(pk: str, ts: int, deleted: bool, w: int) -> dict[str, Any]:
        return {"pk": S(pk), "__ts": N(ts), "__del": {"BOOL": deleted}, "__W": N(w), "__rest": S(f"r{w}"),
                "__broken": S("no"), "__a0": S(f"a{w}"), "__rank": S("x"), "__keys": S("k"), "__image": S("i"),
                "other": S("o")}

    full = export_entry("u0", write_export(tmp_path, "u0", [item(it("a", 1, True, 1)), item(it("b", 2, False, 2)),
                                                           item(it("c", 3, True, 3))]), T0)
    created = ddb_load("Own", "ddb_own_names", [full], key, attrs)
    assert created.status == "succeeded", created.error
    w1 = [change({"pk": S("a"), "__ts": N(1)}, it("a", 1, False, 10), 100),
          change({"pk": S("b"), "__ts": N(2)}, None, 110)]
    window = export_entry("u1", write_export(tmp_path, "u1", w1), T1, "INCREMENTAL", T0)
    merged = ddb_load("Own", "ddb_own_names", [window], key, attrs, action="merge")
    assert merged.status == "succeeded", merged.error
    assert (merged.inserted, merged.updated, merged.deleted, merged.rowCountAfter) == (0, 1, 1, 2)
    rows = run_query(spark, "SELECT * FROM lake.tests.ddb_own_names ORDER BY pk")
    assert [{n: v for n, v in r.items()} for r in rows] == [
        {"pk": "a", "__ts": "1", "__del": False, "__w": 10, "__rest": "r10", "__broken": "no", "__a0": "a10",
         "__rank": "x", "__keys": "k", "__image": "i", "_attributes": '{"other":{"S":"o"}}'},
        {"pk": "c", "__ts": "3", "__del": True, "__w": 3, "__rest": "r3", "__broken": "no", "__a0": "a3",
         "__rank": "x", "__keys": "k", "__image": "i", "_attributes": '{"other":{"S":"o"}}'},
    ]


def test_binary_and_38_digit_number_keys_merge_across_overlapping_windows(ddb_load: DdbLoad, spark: Any,
                                                                          tmp_path: Path) -> None:
    """A binary partition key and a number sort key of 38 digits (DynamoDB's most), with sets, nested maps and a
    38-digit number among the other attributes: updates, deletes, an item put and deleted inside one window, an
    item deleted then put again in the next, an attribute turning from a number into a string, and a replay of
    windows the lake already holds. Every key matches exactly, every value is kept as DynamoDB wrote it."""
    from dynamodbkit import B

    key = [("bin", "B"), ("n", "N")]
    big, small = "9" * 38, "-" + "9" * 38

    def kb(raw: bytes, n: str) -> dict[str, Any]:
        return {"bin": B(raw), "n": N(n)}

    def im(raw: bytes, n: str, **rest: Any) -> dict[str, Any]:
        return {**kb(raw, n), **rest}

    amount = N("12345678901234567890.123456789012345678")
    nested = {"M": {"z": {"L": [N("1"), {"NS": ["2.5", "1"]}]}, "a": {"M": {"deep": B(b"\x00\xfe")}}}}
    state = {
        (b"\x00\x01", big): im(b"\x00\x01", big, amount=amount, tags={"SS": ["b", "a"]}),
        (b"\xff", small): im(b"\xff", small, meta=nested),
        (b"\x00\x01", "1"): im(b"\x00\x01", "1", bins={"BS": [B(b"\x01")["B"], B(b"\x02")["B"]]}),
        (b"\x02", "5"): im(b"\x02", "5", amount=N("5")),
    }
    full = export_entry("bk0", write_export(tmp_path, "bk0", [item(v) for v in state.values()]), T0, item_count=4)
    created = ddb_load("Blobs", "ddb_binary_keys", [full], key, {})
    assert created.status == "succeeded", created.error

    w1 = [
        change(kb(b"\x00\x01", big), im(b"\x00\x01", big, amount=S("no longer a number"), tags={"SS": ["a"]}), 100,
               old=state[(b"\x00\x01", big)]),
        change(kb(b"\xff", small), None, 110, old=state[(b"\xff", small)]),
        change(kb(b"\x02", "5"), None, 120, old=state[(b"\x02", "5")]),  # updated, then deleted in the window
        change(kb(b"\x03", "7"), None, 130),  # put and deleted in the window: the lake never had it
        change(kb(b"\x04", big), im(b"\x04", big, meta=nested), 140),
    ]
    w2 = [
        change(kb(b"\xff", small), im(b"\xff", small, back={"BOOL": True}), 200),  # deleted in w1, put again
        change(kb(b"\x04", big), None, 210, old=im(b"\x04", big, meta=nested)),
        change(kb(b"\x00\x01", "1"), im(b"\x00\x01", "1", bins={"BS": [B(b"\x03")["B"]]}), 220,
               old=state[(b"\x00\x01", "1")]),
    ]
    windows = [export_entry("bk1", write_export(tmp_path, "bk1", w1), T1, "INCREMENTAL", T0, len(w1)),
               export_entry("bk2", write_export(tmp_path, "bk2", w2), T2, "INCREMENTAL", T1, len(w2))]
    merged = ddb_load("Blobs", "ddb_binary_keys", windows, key, {}, action="merge", approve_deletes="true")
    assert merged.status == "succeeded", merged.error
    assert (merged.inserted, merged.updated, merged.deleted, merged.rowCountAfter) == (0, 3, 1, 3)
    expected = {
        (b"\x00\x01", big): {"amount": S("no longer a number"), "tags": {"SS": ["a"]}},
        (b"\x00\x01", "1"): {"bins": {"BS": [B(b"\x03")["B"]]}},
        (b"\xff", small): {"back": {"BOOL": True}},
    }

    def rows() -> dict[tuple[bytes, str], dict[str, Any]]:
        found = run_query(spark, "SELECT base64(bin) AS b, CAST(n AS STRING) AS n, _attributes FROM lake.tests.ddb_binary_keys")
        return {(base64.b64decode(r["b"]), r["n"]): json.loads(r["_attributes"]) for r in found}

    assert rows() == expected
    # A replay overlapping what the lake holds (from T1, the lake reached T2) with a later window: applied once.
    w3 = [change(kb(b"\x00\x01", big), None, 300, old=im(b"\x00\x01", big))]
    replay = [windows[1], export_entry("bk3", write_export(tmp_path, "bk3", w3), T3, "INCREMENTAL", T2, len(w3))]
    again = ddb_load("Blobs", "ddb_binary_keys", replay, key, {}, action="merge", approve_deletes="true")
    assert again.status == "succeeded", again.error
    assert (again.inserted, again.updated, again.deleted, again.rowCountAfter) == (0, 0, 1, 2)
    del expected[(b"\x00\x01", big)]
    assert rows() == expected
    # A 38-digit sort key as lake decimal(38,0), not rounded through a double.
    assert dict(lake_types(spark, "ddb_binary_keys"))["n"] == "decimal(38,0)"


def lake_types(spark: Any, table: str) -> list[tuple[str, str]]:
    return [(r["col_name"], r["data_type"]) for r in run_query(spark, f"DESCRIBE lake.tests.{table}")
            if r["col_name"] and not r["col_name"].startswith("#")]
