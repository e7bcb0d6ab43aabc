"""The create of a new lake table: the values are checked, counted and written in one pass.

A new table has nothing to compare with, so nothing needs the cast values twice. Before any
write, a pass over the key columns alone checks the primary key (source.duplicate_keys_exist:
a bitmap of one integer key column, else a grouping). The CREATE TABLE AS SELECT
then casts each value once: a value that does not cast stops the write (`raise_error`, and
CREATE TABLE AS SELECT commits nothing when its write fails), and an observation counts the
rows and the values set NULL or clamped as they are written. A failed check is explained by
the full checks (source.check_casts, then source.check_keys), with their messages and their
order, so the fast path costs the messages nothing.
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from . import source
from .errors import InternalError
from .names import quote, sql_string
from .pgtypes import ColumnPlan
from .source import BAD_PREFIX, CLAMPED_PREFIX, NULLED_PREFIX, CastCounts

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, Observation

# Raised by the write on the first value that does not cast; the full checks then say which and how many.
VALUE_CHECK_FAILED = "lakesync: a value of the export does not cast to its lake type"
_VALUE_PREFIX = "__lakesync_value_"
# How long the figures observed during the write may take to arrive before they are counted again.
OBSERVATION_WAIT_SECONDS = 120.0


def explain_failed_checks(raw: "DataFrame", plans: list[ColumnPlan], key: Sequence[str], table: str,
                          show_values: bool = False) -> NoReturn:
    """Raises CastError for values that do not cast, else DuplicateKeys, as every other load does."""
    checked = source.typed_frame(raw, plans, with_checks=True)
    source.check_casts(checked, raw, plans, table, show_values)
    if key:
        source.check_keys(checked.select(*[quote(p.name) for p in plans]), list(key), table, show_values)
    raise InternalError(f"table {table}: the checks of the export disagree with each other; rerun the load")


def check_new_keys(raw: "DataFrame", plans: list[ColumnPlan], key: Sequence[str], table: str,
                   show_values: bool = False, export_bytes: int | None = None) -> None:
    """Before any write: a repeated or NULL key, or a key value that does not cast, fails the load.

    A key value that does not cast reads as NULL here, so the full checks report it as the
    CastError it is (values are reported before keys, as on every other load).
    `export_bytes`: the size of the export's files, when known (a small export's key is read whole).
    """
    small = export_bytes is not None and export_bytes <= source.SMALL_EXPORT_BYTES
    if key and source.duplicate_keys_exist(source.typed_frame(raw, plans), key, small):
        explain_failed_checks(raw, plans, key, table, show_values)


@dataclass(frozen=True)
class GuardedWrite:
    """The export cast to lake types, failing on a value that does not cast, counted as it is written."""

    frame: "DataFrame"
    observation: "Observation"
    nulled: tuple[tuple[str, ColumnPlan], ...]
    clamped: tuple[tuple[str, ColumnPlan], ...]

    def counts(self, wait_seconds: float | None = None) -> CastCounts | None:
        """The rows written and the values set NULL or clamped per column (after the write only).

        None when the observed figures do not arrive in time (Spark reports them to a listener
        after the write; the wait is bounded so a lost report cannot hang the load).
        """
        from pyspark.util import InheritableThread  # closes its JVM connection when it ends

        arrived: dict[str, dict[str, Any]] = {}
        waiter = InheritableThread(lambda: arrived.setdefault("metrics", self.observation.get), daemon=True)
        waiter.start()
        waiter.join(OBSERVATION_WAIT_SECONDS if wait_seconds is None else wait_seconds)
        metrics = arrived.get("metrics")
        if metrics is None:
            return None
        return CastCounts(
            int(metrics["n"]),
            {p.source_name: int(metrics[f]) for f, p in self.nulled if metrics[f]},
            {p.source_name: int(metrics[f]) for f, p in self.clamped if metrics[f]},
        )


def guarded_write(raw: "DataFrame", plans: list[ColumnPlan]) -> GuardedWrite:
    """Three projections: cast each value; check and flag it; stop on a bad value, else pass it on.

    The observation counts between the second and the third, which keeps Spark from folding
    the projections into one (that would cast each value again inside its check).
    """
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    values = [quote(_VALUE_PREFIX + str(i)) for i in range(len(plans))]
    cast = raw.selectExpr("*", *[f"{p.expr} AS {v}" for p, v in zip(plans, values)])
    nulled = tuple((NULLED_PREFIX + str(i), p) for i, p in enumerate(plans) if p.nulled)
    clamped = tuple((CLAMPED_PREFIX + str(i), p) for i, p in enumerate(plans) if p.clamped)
    flags = [f"({p.bad_given(v)}) AS {quote(BAD_PREFIX + str(i))}"
             for i, (p, v) in enumerate(zip(plans, values)) if p.bad]
    flags += [f"({p.nulled}) AS {quote(f)}" for f, p in nulled]
    flags += [f"({p.clamped}) AS {quote(f)}" for f, p in clamped]
    observation = Observation(f"lakesync_create_{uuid.uuid4().hex[:12]}")
    counted = cast.selectExpr(*values, *flags).observe(
        observation,
        F.count(F.lit(1)).alias("n"),
        *[F.count_if(F.col(quote(f))).alias(f) for f, _ in (*nulled, *clamped)],
    )
    guard = f"raise_error({sql_string(VALUE_CHECK_FAILED)})"
    written = [
        (f"CASE WHEN {quote(BAD_PREFIX + str(i))} THEN {guard} ELSE {v} END" if p.bad else v) + f" AS {quote(p.name)}"
        for i, (p, v) in enumerate(zip(plans, values))
    ]
    return GuardedWrite(counted.selectExpr(*written), observation, nulled, clamped)


def count_values(raw: "DataFrame", plans: list[ColumnPlan]) -> CastCounts:
    """The rows and the values set NULL or clamped, counted by a pass of their own (as check_casts counts)."""
    counts, _ = source.count_checked(source.typed_frame(raw, plans, with_checks=True), plans)
    return counts


def is_value_check_failure(exc: BaseException) -> bool:
    """Whether a failed write was stopped by the guard (the message travels in the JVM error's text)."""
    return VALUE_CHECK_FAILED in str(exc)
