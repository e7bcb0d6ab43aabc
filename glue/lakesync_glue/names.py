"""Identifiers: S3 Tables naming rules, lowercasing and quoting.

S3 Tables (and Athena / Lake Formation behind it) refuse upper-case table and column
names, so every source name is lowercased; everything that reaches generated SQL is
quoted so that quotes, backticks, spaces, unicode and reserved words survive.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from .errors import NameCollision

# S3 Tables rule for namespaces and tables: 1-255 chars of a-z, 0-9, _, starting with a letter or digit.
_S3_TABLES_NAME = re.compile(r"[a-z0-9][a-z0-9_]{0,254}")
# Spark catalog names are plain identifiers (they become conf keys).
_CATALOG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def s3_tables_name_problem(value: str, kind: str) -> str | None:
    """Why `value` is not a valid S3 Tables namespace/table name, or None when it is."""
    if not _S3_TABLES_NAME.fullmatch(value):
        return (
            f"{kind} names must be 1-255 characters of lowercase letters, digits and underscores, "
            "starting with a letter or digit (S3 Tables rule)"
        )
    if kind == "namespace" and value.startswith("aws"):
        return "namespace names must not start with the reserved prefix 'aws' (S3 Tables rule)"
    return None


def suggest_s3_tables_name(value: str) -> str:
    """A close valid name, used in error messages ("pass 'orders_2024' instead")."""
    name = re.sub(r"[^a-z0-9_]+", "_", value.lower()).strip("_")
    if not name or not name[0].isalnum():
        name = "t_" + name
    return name[:255]


def catalog_name_problem(value: str) -> str | None:
    if not _CATALOG_NAME.fullmatch(value):
        return "catalog names must be letters, digits and underscores, not starting with a digit"
    return None


def lake_name(source_name: str) -> str:
    """The lake (lowercase) name of a source column or table."""
    return source_name.lower()


# The job's own columns (parsed lists, checks, change-set and stage columns) start with this prefix,
# so no source column may, in any case (lake names are lowercased): one would replace or shadow it.
RESERVED_PREFIX = "__lakesync_"


# Names Iceberg (1.7) reserves for its metadata columns: a table with such a column can be created, but
# every later read of it fails ("Table column names conflict with names reserved for Iceberg metadata
# columns"), so no merge, replace or incremental load could ever run on it.
ICEBERG_METADATA_COLUMNS = ("_file", "_pos", "_deleted", "_spec_id", "_partition")


def _check_not_reserved(original: str, lake: str, table: str, source_is_column: bool = True) -> None:
    if lake in ICEBERG_METADATA_COLUMNS:
        becomes = f"becomes {lake!r}" if original.lower() == lake else f"is renamed to {lake!r}"
        raise NameCollision(
            f"table {table}: column {original!r} {becomes}, a name Iceberg reserves for its metadata columns "
            f"({', '.join(ICEBERG_METADATA_COLUMNS)}): the lake table could never be read or merged into, so nothing "
            "is loaded; rename it with a column policy (rename), rename it in PostgreSQL, or exclude it"
        )
    if source_is_column and original.lower().startswith(RESERVED_PREFIX):
        raise NameCollision(
            f"table {table}: column {original!r} starts with the reserved prefix {RESERVED_PREFIX!r} (lakesync's own "
            "columns use it, and one could take the column's place), so nothing is loaded; rename the column in "
            "PostgreSQL, or exclude it with a column policy (exclude: true)"
        )
    if lake.startswith(RESERVED_PREFIX) and original.lower() == lake:  # a name that is not a column itself
        raise NameCollision(
            f"table {table}: {original!r} becomes lake column {lake!r}, which starts with the reserved prefix "
            f"{RESERVED_PREFIX!r} (lakesync's own columns use it), so nothing is loaded; give it another lake name "
            "with a column policy (rename)"
        )
    if lake.startswith(RESERVED_PREFIX):
        raise NameCollision(
            f"table {table}: column {original!r} is renamed to {lake!r}, which starts with the reserved prefix "
            f"{RESERVED_PREFIX!r} (lakesync's own columns use it), so nothing is loaded; choose another rename, or "
            "exclude the column with a column policy (exclude: true)"
        )


# Names Spark (3.5) gives the columns its row-level MERGE adds to the plan (RewriteMergeIntoTable, RowDeltaUtils),
# and the prefix of the original row ids it keeps: with a table column of one, every MERGE into the table fails
# ("Reference `__row_from_source` is ambiguous", or worse, a misleading cardinality error). A table loaded by key is
# merged into on every load after its create, so such a name is refused before the create too.
SPARK_MERGE_COLUMNS = ("__row_id", "__row_operation", "__row_from_source", "__row_from_target")
SPARK_MERGE_PREFIX = "__original_row_id_"


MERGE_NAME_FIX = "rename it with a column policy (rename), rename it in PostgreSQL, or exclude it"


def check_mergeable_names(source_names: Sequence[str], lake_names: Sequence[str], table: str, *,
                          what: str = "column", fix: str = MERGE_NAME_FIX) -> None:
    """Before a load that merges by key: no lake column may take a name Spark's MERGE uses for its own columns
    (`what` the source names are, and the `fix`)."""
    for original, lake in zip(source_names, lake_names):
        if lake in SPARK_MERGE_COLUMNS or lake.startswith(SPARK_MERGE_PREFIX):
            becomes = f"becomes {lake!r}" if original.lower() == lake else f"is renamed to {lake!r}"
            raise NameCollision(
                f"table {table}: {what} {original!r} {becomes}, a name Spark's MERGE uses for its own columns "
                f"({', '.join(SPARK_MERGE_COLUMNS)}, {SPARK_MERGE_PREFIX}...): every merge by primary key into the lake "
                f"table would fail, so nothing is loaded; {fix}"
            )


# What to do about two PostgreSQL columns with one lake name.
COLUMN_COLLISION_FIX = "rename one of them in PostgreSQL or with a column policy (rename), or exclude one"


def lake_column_names(source_names: Sequence[str], table: str, renames: Mapping[str, str] | None = None, *,
                      what: str = "columns", fix: str = COLUMN_COLLISION_FIX, source_is_column: bool = True) -> list[str]:
    """Lowercases column names (or takes a policy's rename); two columns with one lake name fail with both names
    (`what` they are, and the `fix`), and so does a lake name with the reserved prefix, or a source name with it
    when the source name is a column of the job's frames (`source_is_column`; a DynamoDB attribute's is not)."""
    seen: dict[str, str] = {}
    result: list[str] = []
    renames = renames or {}
    for original in source_names:
        lowered = lake_name(renames.get(original, original))
        _check_not_reserved(original, lowered, table, source_is_column)
        if lowered in seen:
            how = "once renamed and lowercased" if renames else "once lowercased"
            raise NameCollision(
                f"table {table}: {what} {seen[lowered]!r} and {original!r} both become {lowered!r} "
                f"{how} (S3 Tables needs lowercase column names); {fix}"
            )
        seen[lowered] = original
        result.append(lowered)
    return result


def quote(identifier: str) -> str:
    """Spark SQL quoting: backticks, with embedded backticks doubled."""
    return "`" + identifier.replace("`", "``") + "`"


def qualified(parts: Iterable[str]) -> str:
    return ".".join(quote(p) for p in parts)


def sql_string(value: str) -> str:
    """A Spark SQL string literal (single quotes, backslash escapes)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
