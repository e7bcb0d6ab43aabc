"""A DynamoDB export with a damaged data file fails its table at once (ExportNotFound, not retried), naming
the file, and writes nothing: a retry reads the same bytes, and a partly read file would lose its items."""
from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dynamodbkit import N, S, DdbLoad, change, data_file, ddb_load, export_entry, item, write_export  # noqa: F401 - the fixture
from lakesync_glue.query import run_query
from scenario import current_snapshot

KEY = [("id", "S")]
ATTRS = {"price": "decimal(10,2)"}
T1, T2 = "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"


def items(ids: range, price: str = "1.5") -> list[dict[str, Any]]:
    return [item({"id": S(f"i{n:02d}"), "price": N(price)}) for n in ids]


def lines(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode("utf-8")


def cut_short(f: Path) -> None:
    body = f.read_bytes()
    f.write_bytes(body[: len(body) // 2])


def not_gzip(f: Path) -> None:
    f.write_bytes(gzip.decompress(f.read_bytes()))


def garbage_after(f: Path) -> None:
    f.write_bytes(f.read_bytes() + b"\x00garbage after the gzip data")


DAMAGE: dict[str, Callable[[Path], None]] = {"cut short": cut_short, "not gzip": not_gzip, "garbage after": garbage_after}


def lake_ids(spark: Any, table: str) -> list[str]:
    return [r["id"] for r in run_query(spark, f"SELECT id FROM lake.tests.{table} ORDER BY id")]


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_data_file_fails_the_table_naming_it_not_retried(ddb_load: DdbLoad, spark: Any, tmp_path: Path,
                                                                     damage: str) -> None:
    table = "ddb_damaged_" + damage.replace(" ", "_")
    created = ddb_load("Products", table, [export_entry("d1", write_export(tmp_path, "d1", items(range(6))), T1)], KEY, ATTRS)
    assert created.status == "succeeded", created.error

    location = write_export(tmp_path, "d2", items(range(3, 12), price="2"), files=3)
    damaged = data_file(tmp_path, location, 1)
    DAMAGE[damage](damaged)
    result = ddb_load("Products", table, [export_entry("d2", location, T2)], KEY, ATTRS, action="replace",
                      approve_deletes="true")
    assert result.status == "failed" and result.error is not None
    assert (result.error["class"], result.error["retryable"]) == ("ExportNotFound", False), result.error
    message = result.error["message"]
    assert str(damaged) in message and "run a new sync" in message, message
    for other in (data_file(tmp_path, location, 0), data_file(tmp_path, location, 2)):
        assert str(other) not in message, "only the damaged file is named"
    assert current_snapshot(spark, table) == created.snapshotId
    assert lake_ids(spark, table) == [f"i{n:02d}" for n in range(6)]


def test_a_damaged_incremental_data_file_fails_the_merge(ddb_load: DdbLoad, spark: Any, tmp_path: Path) -> None:
    created = ddb_load("Products", "ddb_damaged_merge", [export_entry("m0", write_export(tmp_path, "m0", items(range(4))), T1)],
                       KEY, ATTRS)
    assert created.status == "succeeded", created.error
    window = [change({"id": S(f"i{n:02d}")}, {"id": S(f"i{n:02d}"), "price": N(7)}, 1000 + n) for n in range(2, 8)]
    location = write_export(tmp_path, "m1", window, files=2)
    damaged = data_file(tmp_path, location, 0)
    cut_short(damaged)
    result = ddb_load("Products", "ddb_damaged_merge", [export_entry("m1", location, T2, type_="INCREMENTAL", from_=T1)],
                      KEY, ATTRS, action="merge")
    assert result.status == "failed" and result.error is not None
    assert (result.error["class"], result.error["retryable"]) == ("ExportNotFound", False), result.error
    assert str(damaged) in result.error["message"]
    assert current_snapshot(spark, "ddb_damaged_merge") == created.snapshotId


def test_a_full_export_line_that_is_no_item_is_refused_not_loaded_as_a_row(ddb_load: DdbLoad, spark: Any,
                                                                            tmp_path: Path) -> None:
    # A FULL export holds `{"Item": ...}` lines only: a change record's keys alone are no item, and
    # loading one made a row of its key with every attribute NULL.
    records: list[dict[str, Any]] = [*items(range(3)), {"Keys": {"id": S("i99")}}]
    location = write_export(tmp_path, "k1", records, files=1, incremental=False)
    result = ddb_load("Products", "ddb_damaged_keys", [export_entry("k1", location, T1)], KEY, ATTRS)
    assert result.status == "failed" and result.error is not None, lake_ids(spark, "ddb_damaged_keys")
    assert (result.error["class"], result.error["retryable"]) == ("ExportNotFound", False), result.error
    assert "run a new sync" in result.error["message"]
    assert not spark.catalog.tableExists("lake.tests.ddb_damaged_keys")
