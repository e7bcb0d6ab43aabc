"""Finding a table in an export: tables info files, mappings and every data file (local and S3)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import make_args
from exportkit import TableData, col, write_export
from lakesync_glue import storage
from lakesync_glue.errors import ExportNotFound, NameCollision
from lakesync_glue.export import damaged_parts, find_table_export, is_table_part

COLS = [col("id", "bigint"), col("name", "text")]


def args_for(export_path: str, target: str) -> object:
    return make_args(export_path, target, "t", "/tmp/result.json", "/tmp/wh", action="replace")


def test_all_batches_gaps_and_tables_info_files(tmp_path: Path) -> None:
    rows = [(i, f"n{i}") for i in range(12)]
    export = write_export(
        tmp_path,
        [
            TableData("shop", "public", "a", COLS, rows, batches=2, parts_per_batch=3, part_gaps=True),
            TableData("shop", "public", "b", COLS, rows, batches=0),
            TableData("shop", "sales", "a", COLS, rows[:1]),
        ],
        info_files=2,
    )
    info_files = sorted(p.name for p in Path(export.path).glob("export_tables_info_*.json"))
    assert len(info_files) == 2
    found = find_table_export(args_for(export.path, "shop.public.a"))  # type: ignore[arg-type]
    assert [m.column_name for m in found.mappings] == ["id", "name"]
    assert sorted(found.data_files) == sorted(export.data_files["shop.public.a"])
    names = [Path(p).name for p in found.data_files]
    assert {n.split("-")[1] for n in names} == {"00000", "00002", "00005"}
    assert {Path(p).parent.name for p in found.data_files} == {"1", "2"}
    flat = find_table_export(args_for(export.path, "shop.public.b"))  # type: ignore[arg-type]
    assert [Path(p).parent.name for p in flat.data_files] == ["public.b"]


def test_missing_table_suggests_the_case_sensitive_name(tmp_path: Path) -> None:
    export = write_export(tmp_path, [TableData("shop", "public", "Orders", COLS, [(1, "a")])])
    with pytest.raises(ExportNotFound) as info:
        find_table_export(args_for(export.path, "shop.public.orders"))  # type: ignore[arg-type]
    assert "did you mean 'shop.public.Orders'" in info.value.message


def test_incomplete_table_and_missing_export(tmp_path: Path) -> None:
    export = write_export(tmp_path, [TableData("shop", "public", "a", COLS, [(1, "a")], status="FAILED")])
    with pytest.raises(ExportNotFound) as info:
        find_table_export(args_for(export.path, "shop.public.a"))  # type: ignore[arg-type]
    assert "FAILED" in info.value.message
    with pytest.raises(ExportNotFound) as info:
        find_table_export(args_for(str(tmp_path / "nope"), "shop.public.a"))  # type: ignore[arg-type]
    assert "--export_path" in info.value.message
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "export_info_x.json").write_text("{}")
    with pytest.raises(ExportNotFound) as info:
        find_table_export(args_for(str(tmp_path / "bare"), "shop.public.a"))  # type: ignore[arg-type]
    assert "export_tables_info" in info.value.message


def test_s3_export_and_result_through_boto3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    moto = pytest.importorskip("moto")
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    rows = [(i, f"n{i}") for i in range(4)]
    export = write_export(tmp_path, [TableData("shop", "public", "a", COLS, rows, batches=2)])
    with moto.mock_aws():
        storage.reset_clients()
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="exports")
        root = Path(export.path)
        _upload_tree(s3, root, f"rds/{export.export_id}")
        s3_path = f"s3://exports/rds/{export.export_id}"
        found = find_table_export(args_for(s3_path, "shop.public.a"))  # type: ignore[arg-type]
        assert len(found.data_files) == 2
        assert all(p.startswith(f"{s3_path}/shop/public.a/") and p.endswith(".gz.parquet") for p in found.data_files)
        storage.write_text("s3://exports/results/a.json", json.dumps({"ok": True}))
        assert json.loads(storage.read_text("s3://exports/results/a.json")) == {"ok": True}
    storage.reset_clients()


def test_names_with_substituted_characters_are_found_in_rds_folders(tmp_path: Path) -> None:
    # RDS writes backslash, backtick, double quote and space of names as "_" in the export's paths.
    rows = [(1, "a"), (2, "b")]
    export = write_export(tmp_path, [TableData("shop", "public", 'my "odd" `t`\\x', COLS, rows)])
    assert (Path(export.path) / "shop" / "public.my__odd___t__x").is_dir(), "the fixture writes RDS's folder name"
    found = find_table_export(args_for(export.path, 'shop.public.my "odd" `t`\\x'))  # type: ignore[arg-type]
    assert len(found.data_files) == 1 and found.folder.endswith("public.my__odd___t__x")


def test_a_table_with_data_but_no_file_is_refused_not_loaded_empty(tmp_path: Path) -> None:
    export = write_export(tmp_path, [TableData("shop", "public", "a", COLS, [(1, "a")])])
    for part in export.data_files["shop.public.a"]:
        Path(part).unlink()
    with pytest.raises(ExportNotFound) as info:
        find_table_export(args_for(export.path, "shop.public.a"))  # type: ignore[arg-type]
    assert "lists 0.0001 GB for shop.public.a but no Parquet file" in info.value.message
    assert "run a new sync" in info.value.message


def test_tables_written_to_one_folder_are_refused_naming_both(tmp_path: Path) -> None:
    """RDS writes "order items" and "order_items" to the same folder: neither is loaded with the other's rows."""
    export = write_export(tmp_path, [TableData("shop", "public", "order items", COLS, [(1, "spaced")]),
                                     TableData("shop", "public", "order_items", COLS, [(100, "x"), (101, "y")]),
                                     TableData("shop", "public", "orders", COLS, [(7, "z")])])
    for mine, other in (("shop.public.order_items", "shop.public.order items"), ("shop.public.order items", "shop.public.order_items")):
        with pytest.raises(NameCollision) as info:
            find_table_export(args_for(export.path, mine))  # type: ignore[arg-type]
        assert info.value.message.startswith(f"table {mine} and {other} are exported to the same folder "), info.value.message
        assert "rename one of the tables, or exclude all but one of them from the sync" in info.value.message
    assert len(find_table_export(args_for(export.path, "shop.public.orders")).data_files) == 1  # type: ignore[arg-type]


def test_tables_whose_dotted_names_give_one_target_are_refused_naming_both(tmp_path: Path) -> None:
    """Table c of schema "a.b" and table "b.c" of schema a are both listed as db.a.b.c, in folder db/a.b.c."""
    export = write_export(tmp_path, [TableData("db", "a.b", "c", COLS, [(1, "mine")]),
                                     TableData("db", "a", "b.c", COLS, [(100, "theirs")])])
    with pytest.raises(NameCollision) as info:
        find_table_export(args_for(export.path, "db.a.b.c"))  # type: ignore[arg-type]
    message = info.value.message
    assert message.startswith("table db.a.b.c: the export lists 2 tables as db.a.b.c"), message
    assert "schema 'a' table 'b.c' (this load)" in message and "schema 'a.b' table 'c'" in message, message
    assert "rename one of the tables, or exclude all but one of them from the sync" in message, message

    # A name without dots listed twice (a stray tables info file) is one table: refused as a damaged export.
    once = write_export(tmp_path / "once", [TableData("shop", "public", "a", COLS, [(1, "a")])])
    info_file = next(Path(once.path).glob("export_tables_info_*.json"))
    (Path(once.path) / info_file.name.replace("_from_", "_from_9")).write_text(info_file.read_text())
    with pytest.raises(ExportNotFound) as listed:
        find_table_export(args_for(once.path, "shop.public.a"))  # type: ignore[arg-type]
    assert listed.value.message.startswith("table shop.public.a is listed 2 times in the export_tables_info files")
    assert "remove the stray file, or export the snapshot again" in listed.value.message


def test_a_table_whose_folder_lies_in_another_is_refused_and_no_stray_folder_is_read(tmp_path: Path) -> None:
    """"orders/2024" would sit where batch 2024 of "orders" does: "orders" is refused. Files in a folder that is
    no batch folder (not digits) or deeper are never read as the table's."""
    nested = write_export(tmp_path / "nested", [TableData("shop", "public", "orders", COLS, [(1, "o")]),
                                                TableData("shop", "public", "orders/2024", COLS, [(900, "n")], batches=0)])
    with pytest.raises(NameCollision) as info:
        find_table_export(args_for(nested.path, "shop.public.orders"))  # type: ignore[arg-type]
    assert "and shop.public.orders/2024 are exported to the same folder" in info.value.message

    export = write_export(tmp_path / "stray", [TableData("shop", "public", "orders", COLS, [(1, "o")])])
    own = export.data_files["shop.public.orders"]
    folder = Path(own[0]).parent.parent
    for stray in (folder / "archive" / "part-00000-x.gz.parquet", folder / "1" / "old" / "part-00000-y.gz.parquet"):
        stray.parent.mkdir(parents=True, exist_ok=True)
        stray.write_bytes(Path(own[0]).read_bytes())
    assert list(find_table_export(args_for(export.path, "shop.public.orders")).data_files) == own  # type: ignore[arg-type]


def test_a_table_the_export_skipped_without_mappings_is_reported_as_skipped_not_missing(tmp_path: Path) -> None:
    # RDS lists a skipped or failed table with its status and warning only: no schemaMetadata.
    export = write_export(tmp_path, [TableData("shop", "public", "a", COLS, [(1, "a")])])
    info = next(Path(export.path).glob("export_tables_info_*.json"))
    document = json.loads(info.read_text())
    document["perTableStatus"].append({
        "target": "shop.public.b", "status": "SKIPPED",
        "warningMessage": "The table has column names with characters that are not supported",
    })
    info.write_text(json.dumps(document))
    with pytest.raises(ExportNotFound) as raised:
        find_table_export(args_for(export.path, "shop.public.b"))  # type: ignore[arg-type]
    message = raised.value.message
    assert "is not in the export" not in message
    assert "status SKIPPED for shop.public.b" in message
    assert "column names with characters that are not supported" in message


def test_a_tables_info_file_without_a_table_list_is_named_not_a_crash(tmp_path: Path) -> None:
    export = write_export(tmp_path, [TableData("shop", "public", "a", COLS, [(1, "a")])])
    info = next(Path(export.path).glob("export_tables_info_*.json"))
    for content in ("[]", '{"perTableStatus": {"target": "shop.public.a"}}', "null"):
        info.write_text(content)
        with pytest.raises(ExportNotFound) as raised:
            find_table_export(args_for(export.path, "shop.public.a"))  # type: ignore[arg-type]
        assert info.name in raised.value.message, content
        assert "perTableStatus" in raised.value.message, content


def test_a_table_whose_export_completed_fewer_partitions_than_it_read_is_refused(tmp_path: Path) -> None:
    """The rows of partitions the export did not complete are in no file: a merge would delete them from the lake."""
    export = write_export(tmp_path, [TableData("shop", "public", "a", COLS, [(1, "a"), (2, "b")])])
    info = next(Path(export.path).glob("export_tables_info_*.json"))
    document = json.loads(info.read_text())
    for entry in (e for e in document["perTableStatus"] if "tableStatistics" in e):
        entry["tableStatistics"]["partitioningInfo"] = {"numberOfPartitions": 4, "numberOfCompletedPartitions": 3}
    info.write_text(json.dumps(document))
    with pytest.raises(ExportNotFound) as refused:
        find_table_export(args_for(export.path, "shop.public.a"))  # type: ignore[arg-type]
    message = refused.value.message
    assert "3 of its 4 partitions" in message and "shop.public.a" in message and "run a new sync" in message, message


def test_damaged_part_files_are_named_locally_and_on_s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Empty, cut short, not Parquet, or gone: each damaged part is named; whole parts are not."""
    moto = pytest.importorskip("moto")
    import boto3

    rows = [(i, f"n{i}") for i in range(10)]
    export = write_export(tmp_path, [TableData("shop", "public", "a", COLS, rows, batches=1, parts_per_batch=5)])
    parts = sorted(Path(p) for p in export.data_files["shop.public.a"])
    whole = parts[0].read_bytes()
    parts[1].write_bytes(b"")
    parts[2].write_bytes(whole[:-3])
    parts[3].write_bytes(b"PAR1" + b"x" * 64)
    found = find_table_export(args_for(export.path, "shop.public.a"))  # type: ignore[arg-type]
    parts[4].unlink()

    def check(refusal: ExportNotFound | None, names: list[str]) -> None:
        assert refusal is not None
        message = refusal.message
        assert "4 export part file(s)" in message and "run a new sync" in message, message
        assert names[0] not in message, "a whole part is not named"
        for name, why in zip(names[1:], ("0 bytes", "PAR1", "PAR1", "gone")):
            assert f"{name} (" in message and why in message.split(name, 1)[1].split(")")[0], (name, message)

    check(damaged_parts(found), [str(p) for p in parts])

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with moto.mock_aws():
        storage.reset_clients()
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="exports")
        root = Path(export.path)
        _upload_tree(s3, root, "rds")
        s3_parts = [f"s3://exports/rds/{p.relative_to(root).as_posix()}" for p in parts]
        on_s3 = type(found)(found.target, found.status, found.mappings, tuple(s3_parts), found.data_bytes, found.folder)
        check(damaged_parts(on_s3), s3_parts)
    storage.reset_clients()


def _upload_tree(s3: Any, root: Path, prefix: str) -> None:
    """Every file under `root` into the bucket "exports", under `prefix`, as RDS lays out an export."""
    for path in root.rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), "exports", f"{prefix}/{path.relative_to(root).as_posix()}")


def test_the_part_files_the_load_reads_are_those_verification_counts() -> None:
    """The same cases test/core/verify-rows.test.ts holds verification's rule (src/export-rows.ts) to."""
    cases = json.loads((Path(__file__).resolve().parents[2] / "test" / "fixtures" / "export-part-paths.json").read_text())
    for folder in ("/x/ls-1/shop/public.orders", "s3://bucket/ls-1/shop/public.orders"):
        for relative in cases["parts"]:
            assert is_table_part(folder, f"{folder}/{relative}"), relative
        for relative in cases["notParts"]:
            assert not is_table_part(folder, f"{folder}/{relative}"), relative
