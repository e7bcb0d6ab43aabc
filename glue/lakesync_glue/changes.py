"""Change sets: which source rows are inserts, updates or deletes against the lake table.

The change set is computed by joining on the key and comparing rows column by column
(null-safe), so a MERGE only touches rows that really changed and an unchanged table
commits nothing.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from typing import TYPE_CHECKING

from .sqltext import OP_COLUMN

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


def change_set(source: "DataFrame", lake: "DataFrame", key: Sequence[str], deletes: bool,
               not_older: str | None = None) -> "DataFrame":
    """Rows of `source` with OP_COLUMN 'I' or 'U', plus 'D' rows (key only) when `deletes`.

    `source` and `lake` have the same column names and types; keys are never NULL. The result
    is materialized (local checkpoint): its counts and the MERGE that applies it see the same
    rows, whatever the lake table does meanwhile. With `not_older` (a cursor column) a row is
    updated only when its cursor is not older than the lake row's: an older export never moves
    a row back (equal cursors: the source wins).
    """
    from pyspark.sql import functions as F

    names = list(source.columns)
    key_idx = [names.index(k) for k in key]
    other_idx = [i for i in range(len(names)) if i not in key_idx]
    # Positional aliases keep arbitrary column names (dots, backticks) out of expressions.
    s = source.select(*[F.col(f"`{n.replace('`', '``')}`").alias(f"s{i}") for i, n in enumerate(names)],
                      F.lit(True).alias("__s"))
    l = lake.select(*[F.col(f"`{n.replace('`', '``')}`").alias(f"l{i}") for i, n in enumerate(names)],
                    F.lit(True).alias("__l"))
    on = reduce(lambda a, b: a & b, [F.col(f"s{i}") == F.col(f"l{i}") for i in key_idx])
    joined = s.join(l, on, "full_outer" if deletes else "left_outer")
    differs: "Column" = reduce(
        lambda a, b: a | b,
        [~F.col(f"s{i}").eqNullSafe(F.col(f"l{i}")) for i in other_idx],
        F.lit(False),
    )
    if not_older is not None:
        c = names.index(not_older)
        differs = differs & (F.col(f"l{c}").isNull() | (F.col(f"s{c}") >= F.col(f"l{c}")))
    op = (
        F.when(F.col("__l").isNull(), F.lit("I"))
        .when(F.col("__s").isNull(), F.lit("D"))
        .when(differs, F.lit("U"))
    )
    marked = joined.withColumn("__op", op).where(F.col("__op").isNotNull())
    positional = marked.select(
        *[F.coalesce(F.col(f"s{i}"), F.col(f"l{i}")).alias(f"k{i}") if i in key_idx else F.col(f"s{i}")
          for i in range(len(names))],
        F.col("__op"),
    )
    # Materialized before the columns get their names back: renaming the joined plan's columns
    # makes Catalyst's constraint propagation blow up (exponential in the number of columns).
    return positional.localCheckpoint(eager=True).toDF(*names, OP_COLUMN)


def unseen_rows(source: "DataFrame", lake: "DataFrame", compare: Sequence[str]) -> "DataFrame":
    """Rows of `source` the lake does not hold yet, compared on `compare` (null-safe), as multisets.

    Identical rows are numbered on each side and matched one to one: a row the source has twice
    and the lake once is returned once. `lake` has exactly the `compare` columns, with the source's
    types. Materialized like a change set.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    names = list(source.columns)
    idx = [names.index(n) for n in compare]
    s = source.select(*[F.col(f"`{n.replace('`', '``')}`").alias(f"s{i}") for i, n in enumerate(names)])
    l = lake.select(*[F.col(f"`{n.replace('`', '``')}`").alias(f"l{j}") for j, n in enumerate(compare)])
    s = s.withColumn("__n", F.row_number().over(Window.partitionBy(*[f"s{i}" for i in idx]).orderBy(F.lit(0))))
    l = l.withColumn("__n_l", F.row_number().over(Window.partitionBy(*[f"l{j}" for j in range(len(idx))]).orderBy(F.lit(0))))
    on = reduce(lambda a, b: a & b, [F.col(f"s{i}").eqNullSafe(F.col(f"l{j}")) for j, i in enumerate(idx)],
                F.col("__n") == F.col("__n_l"))
    unseen = s.join(l, on, "left_anti").select(*[f"s{i}" for i in range(len(names))])
    return unseen.localCheckpoint(eager=True).toDF(*names)


def count_ops(changes: "DataFrame") -> dict[str, int]:
    counts = {"I": 0, "U": 0, "D": 0}
    for row in changes.groupBy(OP_COLUMN).count().collect():
        counts[row[0]] = int(row[1])
    return counts
