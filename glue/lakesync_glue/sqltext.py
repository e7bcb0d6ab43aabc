"""SQL text of every statement the job runs against the lake: pure, every identifier quoted."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from .names import qualified, quote, sql_string

OP_COLUMN = "__lakesync_op"  # change-set column: I(nsert), U(pdate), D(elete)

# Merge-on-read: a merge writes the changed rows and small delete files instead of
# rewriting every data file that holds a changed row (copy-on-write).
TABLE_PROPERTIES: dict[str, str] = {
    "format-version": "2",
    "write.delete.mode": "merge-on-read",
    "write.update.mode": "merge-on-read",
    "write.merge.mode": "merge-on-read",
}


def table_ident(catalog: str, namespace: str, table: str) -> str:
    return qualified([catalog, namespace, table])


def properties_clause(props: Mapping[str, str]) -> str:
    return ", ".join(f"{sql_string(k)} = {sql_string(v)}" for k, v in props.items())


def create_namespace(catalog: str, namespace: str) -> str:
    return f"CREATE NAMESPACE IF NOT EXISTS {qualified([catalog, namespace])}"


def select_list(columns: Sequence[tuple[str, str | None, str]]) -> str:
    """(target name, source column or None, type) -> `CAST(src AS type) AS name`, NULL when absent."""
    parts = []
    for name, source, type_ in columns:
        value = f"CAST({quote(source)} AS {type_})" if source is not None else f"CAST(NULL AS {type_})"
        parts.append(f"{value} AS {quote(name)}")
    return ", ".join(parts)


def create_table_as(ident: str, view: str, columns: Sequence[tuple[str, str | None, str]], replace: bool = False,
                    properties: Mapping[str, str] | None = None) -> str:
    """CREATE (OR REPLACE) TABLE AS SELECT; `properties` are set with the table's own, in the same commit."""
    verb = "CREATE OR REPLACE TABLE" if replace else "CREATE TABLE"
    return (
        f"{verb} {ident} USING iceberg TBLPROPERTIES ({properties_clause({**TABLE_PROPERTIES, **(properties or {})})}) "
        f"AS SELECT {select_list(columns)} FROM {quote(view)}"
    )


def add_columns(ident: str, columns: Sequence[tuple[str, str]]) -> str:
    return f"ALTER TABLE {ident} ADD COLUMNS ({', '.join(f'{quote(n)} {t}' for n, t in columns)})"


def widen_column(ident: str, name: str, type_: str) -> str:
    return f"ALTER TABLE {ident} ALTER COLUMN {quote(name)} TYPE {type_}"


def drop_column(ident: str, name: str) -> str:
    return f"ALTER TABLE {ident} DROP COLUMN {quote(name)}"


def add_column_after(ident: str, name: str, type_: str, after: str | None) -> str:
    """One column at a position: after `after`, or first (Iceberg's SQL extensions)."""
    return f"ALTER TABLE {ident} ADD COLUMN {quote(name)} {type_} {'FIRST' if after is None else 'AFTER ' + quote(after)}"


def insert_select(ident: str, view: str, columns: Sequence[tuple[str, str | None, str]]) -> str:
    """Appends the view's rows; columns in the table's order (NULL for columns the source lacks)."""
    return f"INSERT INTO {ident} SELECT {select_list(columns)} FROM {quote(view)}"


def merge_changes(
    ident: str,
    view: str,
    key: Sequence[str],
    update_columns: Sequence[str],
    table_columns: Sequence[tuple[str, str]],
    source_columns: Sequence[str],
    target_filter: str | None = None,
) -> str:
    """MERGE of a computed change set: only the listed rows are touched, nothing by source absence.

    `target_filter`: a condition on the table's rows alone that every changed key meets (it narrows
    the MERGE's scan of the table without changing what the MERGE does).
    """
    on = " AND ".join(f"t.{quote(k)} = c.{quote(k)}" for k in key)
    if target_filter:
        on += f" AND {target_filter}"
    op = f"c.{quote(OP_COLUMN)}"
    present = set(source_columns)
    clauses = [f"WHEN MATCHED AND {op} = 'D' THEN DELETE"]
    if update_columns:
        sets = ", ".join(f"t.{quote(c)} = c.{quote(c)}" for c in update_columns)
        clauses.append(f"WHEN MATCHED AND {op} = 'U' THEN UPDATE SET {sets}")
    names = ", ".join(quote(n) for n, _ in table_columns)
    values = ", ".join(
        f"c.{quote(n)}" if n in present else f"CAST(NULL AS {t})" for n, t in table_columns
    )
    clauses.append(f"WHEN NOT MATCHED AND {op} = 'I' THEN INSERT ({names}) VALUES ({values})")
    return f"MERGE INTO {ident} t USING {quote(view)} c ON {on} " + " ".join(clauses)


def naive_merge(ident: str, view: str, key: Sequence[str], columns: Sequence[str]) -> str:
    """The usual full-sync MERGE (for the benchmark): updates every match, deletes by absence."""
    on = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in key)
    sets = ", ".join(f"t.{quote(c)} = s.{quote(c)}" for c in columns if c not in key)
    names = ", ".join(quote(c) for c in columns)
    values = ", ".join(f"s.{quote(c)}" for c in columns)
    return (
        f"MERGE INTO {ident} t USING {quote(view)} s ON {on} "
        f"WHEN MATCHED THEN UPDATE SET {sets} "
        f"WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values}) "
        "WHEN NOT MATCHED BY SOURCE THEN DELETE"
    )


def current_snapshot(ident: str) -> str:
    return f"SELECT snapshot_id FROM {ident}.{quote('refs')} WHERE name = 'main' AND type = 'BRANCH'"


def count_rows(ident: str) -> str:
    return f"SELECT count(*) AS n FROM {ident}"


def max_value(ident: str, column: str) -> str:
    return f"SELECT max({quote(column)}) AS v FROM {ident}"


def min_value(ident: str, column: str) -> str:
    return f"SELECT min({quote(column)}) AS v FROM {ident}"
