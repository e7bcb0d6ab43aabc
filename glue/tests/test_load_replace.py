"""Tables without a key: atomic CREATE OR REPLACE that keeps history, and nothing when unchanged."""
from __future__ import annotations

from typing import Any

import pytest

from conftest import Loader
from exportkit import col
from lakesync_glue.query import run_query
from scenario import Versions, current_snapshot, snapshots

COLS = [col("code", "text"), col("qty", "integer")]
V1 = [("a", 1), ("b", 2), ("b", 2), ("c", 3)]  # no key: duplicates are legitimate rows
V2 = [("a", 1), ("b", 2), ("c", 30), ("d", 4), ("d", 4)]


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> Versions:
    return Versions(tmp_path_factory.mktemp("replace"), "shop", "public", "codes")


def lake(spark: Any, version: str | None = None) -> list[tuple[Any, ...]]:
    at = f" VERSION AS OF {version}" if version else ""
    return [(r["code"], r["qty"]) for r in run_query(spark, f"SELECT * FROM lake.tests.codes{at} ORDER BY code, qty")]


def test_replace_creates_replaces_and_keeps_history(load: Loader, spark: Any, versions: Versions) -> None:
    first = load(versions.export(COLS, V1), "shop.public.codes", "codes", action="replace")
    assert (first.status, first.action, first.inserted, first.rowCountAfter) == ("succeeded", "create", 4, 4)

    second = load(versions.export(COLS, V2), "shop.public.codes", "codes", action="replace")
    assert second.status == "succeeded", second.error
    # Multiset difference: one ("b", 2) and ("c", 3) gone; ("c", 30) and two ("d", 4) new.
    assert (second.action, second.inserted, second.updated, second.deleted) == ("replace", 3, 0, 2)
    assert second.rowCountAfter == 5 and second.committed
    assert lake(spark) == sorted(V2)
    assert [s["id"] for s in snapshots(spark, "codes")][-2:] == [first.snapshotId, second.snapshotId]
    assert lake(spark, first.snapshotId) == sorted(V1)  # history kept: time travel to the old version

    third = load(versions.export(COLS, list(reversed(V2))), "shop.public.codes", "codes", action="replace")
    assert (third.action, third.committed, third.inserted, third.deleted) == ("none", False, 0, 0)
    assert third.snapshotId == second.snapshotId == current_snapshot(spark, "codes")


def test_replace_after_a_column_is_added_or_dropped_deletes_no_rows(load: Loader, spark: Any,
                                                                     versions: Versions) -> None:
    """A column added to (or dropped from) a table without a key changes no row's presence: the delete guard holds."""
    rows = [("a", 1), ("b", 2), ("c", 3)]
    first = load(versions.export(COLS, rows), "shop.public.codes", "codes_cols", action="replace")
    assert first.status == "succeeded", first.error

    added = [*COLS, col("note", "text")]
    second = load(versions.export(added, [(c, q, f"n-{c}") for c, q in rows]), "shop.public.codes", "codes_cols",
                  action="replace")
    assert second.status == "succeeded", second.error
    assert (second.inserted, second.deleted) == (0, 0)
    assert second.schemaChanges == ["added column note string"] and second.committed
    assert [(r["code"], r["qty"], r["note"]) for r in run_query(spark, "SELECT * FROM lake.tests.codes_cols ORDER BY code")] == [
        ("a", 1, "n-a"), ("b", 2, "n-b"), ("c", 3, "n-c")]

    dropped = [col("code", "text"), col("note", "text")]
    third = load(versions.export(dropped, [("a", "n-a"), ("b", "n-b"), ("c", "n-c"), ("d", "n-d")]),
                 "shop.public.codes", "codes_cols", action="replace")
    assert third.status == "succeeded", third.error
    assert (third.inserted, third.deleted) == (1, 0)
    assert third.droppedColumns == ["qty"]
    assert [r["code"] for r in run_query(spark, "SELECT code FROM lake.tests.codes_cols ORDER BY code")] == ["a", "b", "c", "d"]


def test_a_column_dropped_with_no_other_change_is_emptied_as_by_any_replace(load: Loader, spark: Any,
                                                                            versions: Versions) -> None:
    """A replace rewrites every row: the dropped column holds no value afterwards, whether or not a row changed,
    so a later export that brings the column back finds the lake as the export before it left it."""
    rows = [("a", 1), ("b", 2), ("c", 3)]
    assert load(versions.export(COLS, rows), "shop.public.codes", "codes_drop", action="replace").status == "succeeded"
    only_code = [col("code", "text")]
    second = load(versions.export(only_code, [(c,) for c, _ in rows]), "shop.public.codes", "codes_drop",
                  action="replace")
    assert second.status == "succeeded", second.error
    assert (second.inserted, second.deleted, second.droppedColumns, second.committed) == (0, 0, ["qty"], True)
    assert [(r["code"], r["qty"]) for r in run_query(spark, "SELECT * FROM lake.tests.codes_drop ORDER BY code")] == [
        ("a", None), ("b", None), ("c", None)]
    again = load(versions.export(only_code, [(c,) for c, _ in rows]), "shop.public.codes", "codes_drop",
                 action="replace")
    assert (again.status, again.committed, again.inserted, again.deleted) == ("succeeded", False, 0, 0), again.error


def test_a_column_that_comes_back_after_a_replace_emptied_it_deletes_no_rows(load: Loader, spark: Any,
                                                                             versions: Versions) -> None:
    """The lake column holds no value (as a column just added would not): it does not make every row look
    deleted and inserted, so the delete guard holds, and the values it brings back are written."""
    rows = [(str(i), i) for i in range(10)]
    assert load(versions.export(COLS, rows), "shop.public.codes", "codes_back", action="replace").status == "succeeded"
    gone = load(versions.export([col("code", "text")], [(c,) for c, _ in rows]), "shop.public.codes", "codes_back",
                action="replace")
    assert (gone.status, gone.committed) == ("succeeded", True), gone.error
    back = load(versions.export(COLS, rows), "shop.public.codes", "codes_back", action="replace")
    assert back.status == "succeeded", back.error
    assert (back.inserted, back.deleted, back.committed) == (0, 0, True)
    assert [(r["code"], r["qty"]) for r in run_query(spark, "SELECT * FROM lake.tests.codes_back ORDER BY qty")] == rows
