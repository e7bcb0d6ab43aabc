"""JSON-safe query results for local verification (the embedded stand-in for Athena)."""
from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

# Times are formatted in Spark, not Python: PySpark turns timestamps into naive local-time
# datetimes and cannot hold years beyond 9999. Decimals arrive as exact Python Decimals.
_TS_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"
_TS_NTZ_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS"


def json_safe_column(column: "Column", type_name: str) -> "Column":
    """Spark expression rendering one value JSON-safely: decimals as strings, times as ISO-8601."""
    from pyspark.sql import functions as F

    if type_name == "date":
        return column.cast("string")
    if type_name == "timestamp":
        return F.date_format(column, _TS_FORMAT)
    if type_name == "timestamp_ntz":
        return F.date_format(column, _TS_NTZ_FORMAT)
    if type_name == "binary":
        return F.base64(column)
    if type_name.startswith(("array", "map", "struct")):
        return F.to_json(column)
    return column


def _python_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Plain notation with the column's scale ("0.000000000000000001", "1234.50"), never "1E-18".
        return format(value, "f")
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    return value


def json_safe_frame(df: "DataFrame") -> "DataFrame":
    """The same rows with positional column names c0..cn, every value JSON-safe."""
    renamed = df.toDF(*[f"c{i}" for i in range(len(df.columns))])
    from pyspark.sql import functions as F

    return renamed.select(
        *[
            json_safe_column(F.col(f"c{i}"), field.dataType.simpleString()).alias(f"c{i}")
            for i, field in enumerate(df.schema.fields)
        ]
    )


# The largest integer a JSON reader that holds numbers as doubles (JavaScript's) keeps exactly.
_EXACT_JSON_INT = 2**53 - 1


def _row_value(value: Any) -> Any:
    """A query cell for the runner's JSON: a non-finite float is marked (JSON has no NaN) so the
    client turns it back into a number instead of a string; an integer a double cannot hold exactly
    is sent as its digits (as Athena sends every value), not rounded."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return {"$float": "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")}
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _EXACT_JSON_INT:
        return str(value)
    return _python_value(value)


def run_query(spark: "SparkSession", sql: str, before_run: Callable[[Any], None] | None = None,
              max_rows: int | None = None) -> list[dict[str, Any]]:
    """Runs SQL and returns JSON-safe rows (decimals as strings, timestamps ISO-8601, non-finite
    floats marked as {"$float": "NaN"}). `before_run` gets the analyzed plan before any row is computed.
    `max_rows`: only the first rows the query answers, so a large answer never reaches the driver."""
    df = spark.sql(sql)
    if before_run is not None:
        before_run(df._jdf.queryExecution().analyzed())
    names = unique_names(list(df.columns))
    safe = json_safe_frame(df)
    rows = (safe.limit(max_rows) if max_rows is not None else safe).collect()
    return [{names[i]: _row_value(row[i]) for i in range(len(names))} for row in rows]


def unique_names(names: list[str]) -> list[str]:
    """Column names made unique, so that no value is lost to a row keyed by name: a repeated name
    takes the first free of name_2, name_3, ... (SELECT a.id, b.id answers id and id_2)."""
    taken: set[str] = set()
    out: list[str] = []
    for name in names:
        unique, n = name, 1
        while unique in taken:
            n += 1
            unique = f"{name}_{n}"
        taken.add(unique)
        out.append(unique)
    return out


def format_value(spark: "SparkSession", df: "DataFrame") -> str | None:
    """The single value of a one-row, one-column frame as a string (cursor values)."""
    rows = json_safe_frame(df).collect()
    if not rows or rows[0][0] is None:
        return None
    value = _python_value(rows[0][0])
    return value if isinstance(value, str) else str(value)
