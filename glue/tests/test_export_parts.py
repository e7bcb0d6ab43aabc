"""The part files discovery saw: a table whose files changed before the job read them is refused before any write.

Discovery records each table's part files (count and bytes) when the cycle finds the export; the load
job runs later. A part file deleted in between (an S3 lifecycle rule expiring the export prefix after
ExportRetentionDays, a manual delete) would load the table without its rows, and a merge would delete
them from the lake; verification counts the same shrunken files and agrees. The job is told what
discovery saw (--export_part_files, --export_part_bytes) and refuses a table whose files differ.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from conftest import Loader, make_args
from exportkit import TableData, col, write_export
from lakesync_glue.errors import InvalidArgument
from scenario import current_snapshot, lake_rows

COLS = [col("id", "bigint"), col("name", "text")]
ROWS = [(i, f"n{i}") for i in range(1, 21)]


def told(files: list[str]) -> dict[str, str]:
    """The figures discovery hands the job: the table's part files and their bytes."""
    return {"export_part_files": str(len(files)), "export_part_bytes": str(sum(os.path.getsize(f) for f in files))}


def test_a_table_whose_part_files_changed_since_discovery_is_refused_before_any_write(load: Loader, spark: Any, tmp_path: Path) -> None:
    first = write_export(tmp_path, [TableData("shop", "public", "parts", COLS, ROWS, batches=2, parts_per_batch=2)], export_id="exp-parts-1")
    result = load(first.path, "shop.public.parts", "parts_changed", primary_key="id", **told(first.data_files["shop.public.parts"]))
    assert result.status == "succeeded", result.error
    assert result.rowCountAfter == 20
    before = current_snapshot(spark, "parts_changed")

    # The next export holds the same 20 rows in 4 files; discovery sees all 4, then one expires before the job reads.
    second = write_export(tmp_path, [TableData("shop", "public", "parts", COLS, ROWS, batches=2, parts_per_batch=2)], export_id="exp-parts-2")
    files = second.data_files["shop.public.parts"]
    seen = told(files)
    Path(files[-1]).unlink()
    now_bytes = sum(os.path.getsize(f) for f in files[:-1])
    result = load(second.path, "shop.public.parts", "parts_changed", primary_key="id", **seen)

    assert result.status == "failed", f"a load from 3 of the 4 part files discovery saw must not commit: {result}"
    assert result.error is not None
    assert (result.error["class"], result.error["retryable"]) == ("ExportNotFound", False), result.error
    message = result.error["message"]
    assert message.startswith("table shop.public.parts: "), message
    assert f"(4 file(s), {seen['export_part_bytes']} bytes then; 3 file(s), {now_bytes} bytes now)" in message, message
    assert "run a new sync" in message, message
    assert not result.committed and result.deleted == 0
    assert current_snapshot(spark, "parts_changed") == before, "nothing is written"
    assert len(lake_rows(spark, "parts_changed")) == 20, "no row is deleted from the lake"

    # The same figures with every file in place load as before: matching figures are no refusal.
    third = write_export(tmp_path, [TableData("shop", "public", "parts", COLS, ROWS, batches=2, parts_per_batch=2)], export_id="exp-parts-3")
    result = load(third.path, "shop.public.parts", "parts_changed", primary_key="id", **told(third.data_files["shop.public.parts"]))
    assert result.status == "succeeded", result.error
    assert result.rowCountAfter == 20


def test_a_packed_table_whose_part_files_changed_is_refused_and_the_others_load(spark: Any, warehouse: str, tmp_path: Path) -> None:
    from lakesync_glue import pack as packing

    from test_pack import table_args, write_pack

    export = write_export(tmp_path, [TableData("shop", "public", name, COLS, ROWS, parts_per_batch=2) for name in ("kept", "shrunk")],
                          export_id="exp-parts-pack")
    seen = {name: told(export.data_files[f"shop.public.{name}"]) for name in ("kept", "shrunk")}
    Path(export.data_files["shop.public.shrunk"][0]).unlink()
    results = tmp_path / "results"
    loads = [{**table_args(export.path, name, results, warehouse, "parts_pack"), **seen[name]} for name in ("kept", "shrunk")]
    pack = packing.read_pack(write_pack(tmp_path / "packs", "parts-pack", loads))
    packing.run_pack(spark, pack, "local", ("lake", os.path.abspath(warehouse)), lambda: False)

    kept = json.loads((results / "kept.json").read_text())
    assert (kept["status"], kept["inserted"]) == ("succeeded", 20), kept
    shrunk = json.loads((results / "shrunk.json").read_text())
    assert shrunk["status"] == "failed", f"a packed table loaded from 1 of its 2 part files: {shrunk}"
    assert shrunk["error"]["class"] == "ExportNotFound" and not shrunk["error"]["retryable"], shrunk["error"]
    assert "table shop.public.shrunk: " in shrunk["error"]["message"] and "2 file(s)" in shrunk["error"]["message"]
    assert not shrunk["committed"]


@pytest.mark.parametrize(
    "given, fragments",
    [
        ({"export_part_files": "3"}, ["--export_part_files '3'", "--export_part_bytes"]),
        ({"export_part_bytes": "100"}, ["--export_part_bytes '100'", "--export_part_files"]),
        ({"export_part_files": "three", "export_part_bytes": "100"}, ["--export_part_files 'three'", "whole number"]),
        ({"export_part_files": "-1", "export_part_bytes": "100"}, ["--export_part_files '-1'", "whole number"]),
        ({"export_part_files": "3", "export_part_bytes": "1.5"}, ["--export_part_bytes '1.5'", "whole number"]),
    ],
)
def test_the_part_figures_are_validated(given: dict[str, str], fragments: list[str]) -> None:
    with pytest.raises(InvalidArgument) as info:
        make_args("/tmp/exp-1", "shop.public.t", "t", "/tmp/result.json", "/tmp/wh", action="replace", **given)
    for fragment in fragments:
        assert fragment in info.value.message, info.value.message


def test_the_part_figures_are_optional_and_kept() -> None:
    assert make_args("/tmp/exp-1", "shop.public.t", "t", "/tmp/result.json", "/tmp/wh", action="replace").export_parts is None  # type: ignore[attr-defined]
    args = make_args("/tmp/exp-1", "shop.public.t", "t", "/tmp/result.json", "/tmp/wh", action="replace", export_part_files="0", export_part_bytes="0")
    assert args.export_parts == (0, 0)  # type: ignore[attr-defined]
