"""The checks of a load that creates its lake table: one pass over the export, no cache.

A new table has nothing to compare with, so the typed export is read again instead of cached
(a cache of every cast value costs more than casting again: at millions of rows it spills to
disk). Before any write, one aggregate (no shuffle) counts the rows, the bad values and the
values set NULL or clamped, and one grouping of the key columns alone checks the primary key
(cheaper than carrying every count through the key's shuffle); the CREATE TABLE AS SELECT then
casts the values again as it writes them. A failed check is explained by the full checks
(source.check_casts, then source.check_keys), with their messages and their order.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import source
from .errors import InternalError
from .names import quote
from .pgtypes import ColumnPlan
from .source import BAD_PREFIX, CLAMPED_PREFIX, NULLED_PREFIX, CastCounts

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def _counts(checked: "DataFrame", flags: list[str]) -> dict[str, int]:
    """The rows and the rows of each flag: one aggregate, no shuffle."""
    row = checked.selectExpr("count(1) AS n", *[f"count_if({quote(f)}) AS {quote(f)}" for f in flags]).collect()[0]
    return {name: int(row[name] or 0) for name in ["n", *flags]}


def _key_problem(checked: "DataFrame", key: Sequence[str]) -> bool:
    """Whether a key value repeats or a key column is NULL: a shuffle of the key columns only."""
    from pyspark.sql import functions as F

    grouped = checked.groupBy(*[F.col(quote(k)) for k in key]).agg(F.count(F.lit(1)).alias("n"))
    null_any = " OR ".join(f"{quote(k)} IS NULL" for k in key)
    row = grouped.selectExpr("count_if(n > 1 OR " + null_any + ") AS problems").collect()[0]
    return bool(row["problems"])


def check_new_table(raw: "DataFrame", plans: list[ColumnPlan], key: Sequence[str], table: str,
                    show_values: bool = False) -> CastCounts:
    """Rows and values set NULL or clamped per column, after every check the load makes.

    Raises CastError for a value that does not cast, then DuplicateKeys for a repeated or NULL
    key, exactly as source.check_casts and source.check_keys do on the other loads.
    """
    checked = source.typed_frame(raw, plans, with_checks=True)
    bad = [BAD_PREFIX + str(i) for i, p in enumerate(plans) if p.bad]
    nulled = [(NULLED_PREFIX + str(i), p) for i, p in enumerate(plans) if p.nulled]
    clamped = [(CLAMPED_PREFIX + str(i), p) for i, p in enumerate(plans) if p.clamped]
    counts = _counts(checked, bad + [f for f, _ in nulled] + [f for f, _ in clamped])
    if any(counts[f] for f in bad) or (key and _key_problem(checked, key)):
        # Failure only: the full checks compose the messages (counts per column, examples, hints).
        source.check_casts(checked, raw, plans, table, show_values)
        source.check_keys(checked.select(*[quote(p.name) for p in plans]), list(key), table, show_values)
        raise InternalError(f"table {table}: the checks of the export disagree with each other; rerun the load")
    return CastCounts(
        counts["n"],
        {p.source_name: counts[f] for f, p in nulled if counts[f]},
        {p.source_name: counts[f] for f, p in clamped if counts[f]},
    )
