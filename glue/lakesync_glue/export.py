"""The RDS export of one table: its type mappings and its Parquet files."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from . import storage
from .args import JobArgs
from .errors import ExportNotFound, NameCollision
from .pgtypes import ColumnMapping

_TABLES_INFO = re.compile(r"export_tables_info_.+\.json")
# RDS writes these characters of names as "_" in the export's S3 paths (backslash, backtick, double quote, space).
_PATH_SUBSTITUTED = re.compile(r'[\\`" ]')


def export_path_name(name: str) -> str:
    """A database, schema or table name as it appears in the export's paths."""
    return _PATH_SUBSTITUTED.sub("_", name)


def _exported_data(entry: dict[str, Any]) -> str | None:
    """What the entry says the table holds when it says it holds data (its size, or a row count)."""
    size = entry.get("sizeGB")
    if isinstance(size, (int, float)) and not isinstance(size, bool) and size > 0:
        return f"{size} GB"
    stats = entry.get("tableStatistics")
    for key, value in (stats.items() if isinstance(stats, dict) else []):
        if re.search(r"rows?(count)?$", key, re.IGNORECASE) and isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return f"{value} rows (tableStatistics.{key})"
    return None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _incomplete_partitions(entry: dict[str, Any]) -> tuple[int, int] | None:
    """(completed, partitions) when the entry's partitioningInfo says fewer partitions completed than were read.

    The export reads a table in ranged partitions, each written as its part files; an empty range writes none, so
    the number of files tells nothing, but a partition not completed holds rows that are in no file.
    """
    stats = entry.get("tableStatistics")
    info = stats.get("partitioningInfo") if isinstance(stats, dict) else None
    if not isinstance(info, dict):
        return None
    total, completed = _count(info.get("numberOfPartitions")), _count(info.get("numberOfCompletedPartitions"))
    if total is None or completed is None or completed >= total:
        return None
    return completed, total


@dataclass(frozen=True)
class TableExport:
    target: str
    status: str
    mappings: tuple[ColumnMapping, ...]
    data_files: tuple[str, ...]
    data_bytes: int
    folder: str


def _load_json(path: str) -> Any:
    try:
        return json.loads(storage.read_text(path))
    except json.JSONDecodeError as exc:
        raise ExportNotFound(f"{path} is not valid JSON ({exc}); the export looks damaged, export the snapshot again") from None


_PARQUET_MAGIC = b"PAR1"
# "PAR1", the footer, its length (4 bytes, little-endian) and "PAR1": the smallest file that can hold a footer.
_MIN_PARQUET_BYTES = 12


def _part_damage(path: str) -> str | None:
    """Why a part file cannot be a whole Parquet file (its size and trailer alone), None when it may be one."""
    try:
        size, tail = storage.read_tail(path, 8)
    except FileNotFoundError:
        return "it is gone: removed after the export listed it"
    except Exception as exc:  # noqa: BLE001 - S3: only a missing object is damage; anything else is left to the read
        if getattr(exc, "response", {}).get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return "it is gone: removed after the export listed it"
        return None
    if size < _MIN_PARQUET_BYTES:
        return f"{size} bytes, too small for a Parquet footer"
    if tail[4:] != _PARQUET_MAGIC:
        return "it does not end with the Parquet magic PAR1: cut short, or not Parquet"
    footer = int.from_bytes(tail[:4], "little")
    if footer > size - _MIN_PARQUET_BYTES:
        return f"its footer length {footer} does not fit in its {size} bytes: cut short"
    return None


def damaged_parts(export: "TableExport") -> ExportNotFound | None:
    """The refusal of an export some of whose part files are no whole Parquet file (empty, cut short, another
    format), naming them; None when each looks whole. Checked once a read has failed: a retry reads the same files."""
    found = [(path, why) for path in export.data_files if (why := _part_damage(path)) is not None]
    if not found:
        return None
    listed = "; ".join(f"{path} ({why})" for path, why in found[:5])
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    return ExportNotFound(
        f"table {export.target}: {len(found)} export part file(s) are not a readable Parquet file: {listed}{more}; "
        "the export is damaged or was changed after it completed, so nothing is loaded (the rows of those files "
        "would be missing); run a new sync to export the snapshot again"
    )


def table_entries(export_path: str) -> list[dict[str, Any]]:
    """All perTableStatus entries of every export_tables_info_*.json at the export's root."""
    if not storage.root_exists(export_path):
        raise ExportNotFound(
            f"export path {export_path} does not exist or is empty; pass the export's root folder "
            "(<prefix>/<exportId>) as --export_path"
        )
    names = [n for n in storage.list_names(export_path) if _TABLES_INFO.fullmatch(n)]
    if not names:
        raise ExportNotFound(
            f"no export_tables_info_*.json under {export_path}; pass the export's root folder "
            "(<prefix>/<exportId>) as --export_path, and check that the export is COMPLETE"
        )
    entries: list[dict[str, Any]] = []
    for name in names:
        path = storage.join(export_path, name)
        document = _load_json(path)
        table_list = document.get("perTableStatus") if isinstance(document, dict) else None
        if not isinstance(table_list, list):
            # Its tables would be neither loaded nor reported: the export is damaged, not empty.
            raise ExportNotFound(
                f"{path} holds no perTableStatus list, so the tables it lists cannot be read; the export looks "
                "damaged or was changed after it completed: run a new sync to export the snapshot again"
            )
        entries.extend(e for e in table_list if isinstance(e, dict))
    return entries


_BATCH_FOLDER = re.compile(r"[0-9]+")


def _is_data_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    # Hidden and marker files (".crc", "_SUCCESS") are not data, as in Hadoop.
    return name.endswith(".parquet") and not name.startswith((".", "_"))


def _in_table_folder(folder: str, path: str) -> bool:
    """Right in the table's folder (older exports) or in one of its batch folders (1/, 2/, ...).

    Nothing deeper: a folder below those belongs to no batch (a table whose name continues the path).
    """
    relative = path[len(folder.rstrip("/")) + 1:].split("/")
    return len(relative) == 1 or (len(relative) == 2 and _BATCH_FOLDER.fullmatch(relative[0]) is not None)


def is_table_part(folder: str, path: str) -> bool:
    """Whether `path`, a file listed under the table's export `folder`, is one of the part files the load reads.

    The one rule of a table's exported rows: verification counts the rows of the same files, by `isTablePart`
    in src/export-rows.ts; change both together.
    """
    return _is_data_file(path) and _in_table_folder(folder, path)


def _sharing_folder(entries: list[dict[str, Any]], target: str) -> list[str]:
    """The other exported tables whose folder is `target`'s or lies in it.

    RDS writes "a b" and "a_b" to one path; a table named "a/2024" would sit where a batch folder of "a" does.
    """
    mine = export_path_name(target)
    return sorted({str(e["target"]) for e in entries
                   if "schemaMetadata" in e and isinstance(e.get("target"), str) and e["target"] != target
                   and (export_path_name(e["target"]) == mine or export_path_name(e["target"]).startswith(mine + "/"))})


def _other_splits(args: JobArgs) -> list[str]:
    """The other database, schema and table names that join with '.' into the load's target."""
    parts, mine = args.target.split("."), (args.source_database, args.source_schema, args.source_table)
    out = []
    for i in range(1, len(parts) - 1):
        for j in range(i + 1, len(parts)):
            db, schema, table = ".".join(parts[:i]), ".".join(parts[i:j]), ".".join(parts[j:])
            if (db, schema, table) != mine:
                where = f"schema {schema!r}" if db == mine[0] else f"database {db!r} schema {schema!r}"
                out.append(f"{where} table {table!r}")
    return out


def _refuse_shared_target(args: JobArgs, count: int) -> None:
    """More than one entry has the load's target: neither's mappings nor files are surely its own."""
    others = _other_splits(args)
    if not others:  # no dots in the names: one table listed twice, by overlapping or stray tables info files
        raise ExportNotFound(
            f"table {args.target} is listed {count} times in the export_tables_info files under {args.export_path}, "
            "so which entry describes it cannot be told and nothing is loaded; remove the stray file, or export the "
            "snapshot again"
        )
    raise NameCollision(
        f"table {args.target}: the export lists {count} tables as {args.target}: schema {args.source_schema!r} "
        f"table {args.source_table!r} (this load) and a table whose names hold dots too, e.g. {' or '.join(others)}. "
        "Their entries, and the files of tables of one database, cannot be told apart, so nothing is loaded; rename "
        "one of the tables, or exclude all but one of them from the sync"
    )


def _refuse_changed_parts(args: JobArgs, folder: str, listed: list[storage.FileEntry]) -> None:
    """The table's part files (is_table_part, as discovery counts them) must be those the cycle's discovery saw,
    when the job is told: a file removed since would load the table without its rows."""
    if args.export_parts is None:
        return
    files, size = args.export_parts
    now_files, now_bytes = len(listed), sum(f.size for f in listed)
    if (now_files, now_bytes) == (files, size):
        return
    raise ExportNotFound(
        f"table {args.target}: its part files under {folder} changed since the cycle discovered export {args.export_id} "
        f"({files} file(s), {size} bytes then; {now_files} file(s), {now_bytes} bytes now): an S3 lifecycle rule on the "
        "export prefix (ExportRetentionDays) or a delete removed or changed some, so nothing is loaded (their rows would be "
        "missing from the lake, and a merge would delete them); run a new sync to export the snapshot again"
    )


def find_table_export(args: JobArgs) -> TableExport:
    """The mappings and data files of the table the job loads; ExportNotFound when absent."""
    entries = table_entries(args.export_path)
    matches = [e for e in entries if e.get("target") == args.target]
    if len(matches) > 1:
        _refuse_shared_target(args, len(matches))
    with_schema = [e for e in matches if (e.get("schemaMetadata") or {}).get("originalTypeMappings")]
    not_complete = [e for e in matches if str(e.get("status", "")).upper() != "COMPLETE"]
    if not with_schema and not_complete:
        # A table the export skipped or failed is listed with its status and warning only.
        entry = not_complete[0]
        warning = entry.get("warningMessage")
        raise ExportNotFound(
            f"the export reports status {entry.get('status') or 'UNKNOWN'} for {args.target}, not COMPLETE"
            f"{': ' + str(warning) if warning else ''}; the table holds no exported data, so nothing is loaded. "
            "Fix the cause, then run a new sync to export it again"
        )
    if not with_schema:
        listed = sorted({str(e.get("target")) for e in entries if "schemaMetadata" in e})
        near = [t for t in listed if t.lower() == args.target.lower()]
        hint = f" (did you mean {near[0]!r}? names are case-sensitive)" if near else ""
        raise ExportNotFound(
            f"table {args.target} is not in the export at {args.export_path}{hint}; it lists "
            f"{len(listed)} table(s){', e.g. ' + ', '.join(listed[:5]) if listed else ''}. Check "
            "--source_database/--source_schema/--source_table, or include the table in the export"
        )
    statuses = sorted({str(e.get("status", "")) for e in with_schema})
    if any(s != "COMPLETE" for s in statuses):
        raise ExportNotFound(
            f"the export reports status {'/'.join(statuses)} for {args.target}, not COMPLETE; "
            "export the snapshot again"
        )
    incomplete = _incomplete_partitions(with_schema[0])
    if incomplete:
        raise ExportNotFound(
            f"the export reports {args.target} COMPLETE but completed only {incomplete[0]} of its {incomplete[1]} "
            "partitions (tableStatistics.partitioningInfo), so rows of the others are in no file and nothing is "
            "loaded (a merge would delete them from the lake); run a new sync to export it again"
        )
    mappings = tuple(
        ColumnMapping.from_json(m) for m in with_schema[0]["schemaMetadata"]["originalTypeMappings"]
    )
    folder = storage.join(
        args.export_path, export_path_name(args.source_database), export_path_name(f"{args.source_schema}.{args.source_table}")
    )
    sharing = _sharing_folder(entries, args.target)
    if sharing:
        raise NameCollision(
            f"table {args.target} and {', '.join(sharing)} are exported to the same folder {folder} (RDS writes "
            "spaces, backslashes, backticks and double quotes in names as '_', and keeps '/'), so their files cannot be told "
            "apart and nothing is loaded; rename one of the tables, or exclude all but one of them from the sync"
        )
    # Every batch folder (1/, 2/, ...) and the older layout without one; part numbers may have gaps.
    files = [f for f in storage.list_files(folder) if is_table_part(folder, f.path)]
    _refuse_changed_parts(args, folder, files)
    data = _exported_data(with_schema[0])
    if not files and data:
        raise ExportNotFound(
            f"the export lists {data} for {args.target} but no Parquet file is under {folder}: the files were "
            "removed or moved, so the table is not loaded (an empty load would lose its rows); run a new sync "
            "to export it again"
        )
    return TableExport(
        target=args.target,
        status=statuses[0],
        mappings=mappings,
        data_files=tuple(f.path for f in files),
        data_bytes=sum(f.size for f in files),
        folder=folder,
    )
