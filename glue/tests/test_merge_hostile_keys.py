"""Hostile keys and values over two cycles: every source row lands once, counts are exact.

Each merged table is compared with a table created from the same export (the reference).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from conftest import Loader
from exportkit import col
from scenario import Versions, lake_rows


def merge_twice(load: Loader, spark: Any, tmp_path: Path, table: str, cols: list[Any], key: str, v1: list[Any],
                v2: list[Any], order: str = "k") -> Any:
    versions = Versions(tmp_path, "shop", "public", table)
    first = load(versions.export(cols, v1), versions.target, table, action="merge", primary_key=key)
    assert (first.status, first.action, first.inserted) == ("succeeded", "create", len(v1)), first.error
    export = versions.export(cols, v2)
    result = load(export, versions.target, table, action="merge", primary_key=key)
    assert result.status == "succeeded", result.error
    ref = load(export, versions.target, f"{table}_ref", action="create", primary_key=key)
    assert ref.status == "succeeded", ref.error
    assert lake_rows(spark, table, order) == lake_rows(spark, f"{table}_ref", order)
    again = load(versions.export(cols, v2), versions.target, table, action="merge", primary_key=key)
    assert (again.status, again.inserted, again.updated, again.deleted, again.committed) == (
        "succeeded", 0, 0, 0, False), again
    return result


TEXT_KEYS = ["a\\b", "a\\\\b", "it's", "\\'", "a\\nb", "a\nb", "caf\u00e9", "cafe\u0301", "A", "a", "a ", " a",
             "%_", "\\u0041", "x" * 300, "\U0001F600"]


def test_text_keys_with_escapes_case_and_unicode_forms(load: Loader, spark: Any, tmp_path: Path) -> None:
    cols = [col("k", "text"), col("v", "text")]
    v1 = [[k, f"v{i}"] for i, k in enumerate(TEXT_KEYS)]
    # Every key updated except the first, one deleted, one new.
    v2 = [[k, f"w{i}" if i else f"v{i}"] for i, k in enumerate(TEXT_KEYS) if k != "a"] + [["a\\c", "new"]]
    result = merge_twice(load, spark, tmp_path, "hk_text", cols, "k", v1, v2)
    assert (result.inserted, result.updated, result.deleted) == (1, len(TEXT_KEYS) - 2, 1)


def test_char_and_uuid_keys(load: Loader, spark: Any, tmp_path: Path) -> None:
    cols = [col("k", "char(4)"), col("u", "uuid"), col("v", "text")]
    ids = ["0f8fad5b-d9cb-469f-a165-70867728950e", "7c9e6679-7425-40de-944b-e07fc1f90ae7",
           "c9bf9e57-1685-4c89-bafb-ff5af830be8a"]
    v1 = [["a   ", ids[0], "x"], ["ab  ", ids[1], "y"], ["    ", ids[2], "z"]]
    v2 = [["a   ", ids[0], "x2"], ["    ", ids[2], "z"], ["b   ", ids[1], "y"]]
    result = merge_twice(load, spark, tmp_path, "hk_char", cols, "k", v1, v2)
    assert (result.inserted, result.updated, result.deleted) == (1, 1, 1)
    result = merge_twice(load, spark, tmp_path / "u", "hk_uuid", cols, "u", v1, v2, order="u")
    assert (result.inserted, result.updated, result.deleted) == (0, 2, 0)


def test_text_values_null_empty_and_the_word_null(load: Loader, spark: Any, tmp_path: Path) -> None:
    cols = [col("k", "bigint"), col("a", "text"), col("b", "text"), col("s", "double precision")]
    nan, inf = float("nan"), float("inf")
    v1 = [[1, "", None, nan], [2, None, "", 1.0], [3, "NULL", "ab", inf], [4, "ab", "c", -inf], [5, "\\N", "", 0.0],
          [6, "x", "y", nan]]
    v2 = [[1, None, "", nan], [2, "", None, nan], [3, None, "a", -inf], [4, "a", "bc", inf], [5, "", "\\N", 0.0],
          [6, "x", "y", 1.0]]
    result = merge_twice(load, spark, tmp_path, "hk_values", cols, "k", v1, v2)
    assert (result.inserted, result.updated, result.deleted) == (0, 6, 0)


def test_composite_keys_swapped_and_moved(load: Loader, spark: Any, tmp_path: Path) -> None:
    cols = [col("k", "text"), col("n", "integer"), col("v", "text")]
    v1 = [["a", 1, "one"], ["a", 2, "two"], ["ab", 1, "three"], ["b", 12, "four"], ["", 0, "five"]]
    # ('a',2) and ('ab',1) swap values; ('b',12) moves to ('b1',2); ('',0) stays.
    v2 = [["a", 1, "one"], ["a", 2, "three"], ["ab", 1, "two"], ["b1", 2, "four"], ["", 0, "five"]]
    result = merge_twice(load, spark, tmp_path, "hk_comp", cols, "k,n", v1, v2, order="k, n")
    assert (result.inserted, result.updated, result.deleted) == (1, 2, 1)


def test_numeric_and_timestamptz_keys(load: Loader, spark: Any, tmp_path: Path) -> None:
    cols = [col("k", "numeric(10,2)"), col("t", "timestamptz"), col("v", "text")]
    v1 = [["1.00", "2024-05-01 10:00:00+00", "a"], ["-0.01", "2024-05-01 11:00:00+00", "b"],
          ["0.00", "2024-05-01 12:00:00.5+00", "c"]]
    v2 = [["1.00", "2024-05-01 10:00:00+00", "a2"], ["-0.01", "2024-05-01 11:00:00+00", "b"],
          ["0.00", "2024-05-01 12:00:00.5+00", "c2"]]
    result = merge_twice(load, spark, tmp_path, "hk_num", cols, "k", v1, v2)
    assert (result.inserted, result.updated, result.deleted) == (0, 2, 0)
    result = merge_twice(load, spark, tmp_path / "t", "hk_ts", cols, "t", v1, v2, order="t")
    assert (result.inserted, result.updated, result.deleted) == (0, 2, 0)


def test_repeated_keys_in_the_export_are_refused_naming_the_table(load: Loader, spark: Any, tmp_path: Path) -> None:
    cols = [col("k", "text"), col("v", "text")]
    versions = Versions(tmp_path, "shop", "public", "hk_dup")
    assert load(versions.export(cols, [["a", "1"], ["b", "2"]]), versions.target, "hk_dup",
                primary_key="k").status == "succeeded"
    result = load(versions.export(cols, [["a", "1"], ["b", "2"], ["b", "3"]]), versions.target, "hk_dup",
                  primary_key="k")
    assert result.status == "failed" and result.error is not None
    assert result.error["class"] == "DuplicateKeys" and "shop.public.hk_dup" in result.error["message"], result.error
    assert sorted(r["v"] for r in lake_rows(spark, "hk_dup", "k")) == ["1", "2"]


def test_same_key_values_written_differently(load: Loader, spark: Any, tmp_path: Path) -> None:
    cols = [col("t", "timestamptz"), col("d", "double precision"), col("n", "numeric"), col("v", "text")]
    nan = float("nan")
    v1 = [["2024-05-01 10:00:00+00", -0.0, "1.0", "a"], ["2024-05-01 11:00:00+00", nan, "2.50", "b"],
          ["2024-05-01 12:00:00+00", 1.5, "3", "c"]]
    v2 = [["2024-05-01 12:00:00+02", 0.0, "1", "a"], ["2024-05-01 06:00:00-05", nan, "2.5", "b"],
          ["2024-05-01 12:00:00+00", 1.5, "3.000", "c2"]]
    for key in ("t", "d", "n"):
        result = merge_twice(load, spark, tmp_path / key, f"hk_same_{key}", cols, key, v1, v2, order="v")
        assert (result.inserted, result.updated, result.deleted) == (0, 1, 0), key
