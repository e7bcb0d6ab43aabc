"""The merge of an export into an existing table, casting only the rows that may have changed.

Stage one counts each side's keys (key columns only), then reads the export and the lake once
each and joins them on the key, as they are read:
each exported value is compared with the lake value as the export writes it (changes.raw_compare),
so unchanged rows are never cast. Stage two casts and checks the remaining rows (inserts and
candidates, whose raw values stage one kept) exactly as every load does and compares them typed with the lake values carried
from stage one (changes.change_set), so the counts are those of the full comparison. The lake is
read at the snapshot the load started from; the MERGE touches only the change set's keys.

Anything unusual (repeated or NULL keys on either side, an empty export) returns None: the
caller then checks every row and reports the exact error or outcome.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from . import columns, source
from .changes import (CANDIDATE, LAKE_PREFIX, S_OP, candidate_rows, change_set, count_ops, key_counts_of_both,
                      raw_compare, stage_counts, stage_key)
from .errors import InternalError
from .names import quote, sql_string
from .schema import SchemaPlan
from .sqltext import OP_COLUMN

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from .loader import Outcome, _Load
    from .pgtypes import ColumnPlan

log = logging.getLogger("lakesync_glue")

KEY_LIST_LIMIT = 50_000  # changed keys up to which the MERGE names them (the target scan keeps only those)
KEY_LIST_CHARACTERS = 1_000_000  # and text keys up to this many characters in all: Spark parses the list on the driver
LISTED_KEY_TYPES = ("tinyint", "smallint", "int", "bigint", "string")


class FastMerge:
    def __init__(self, load: "_Load", raw: "DataFrame", plans: list["ColumnPlan"], schema: SchemaPlan,
                 key: list[str], lake_types: dict[str, str]) -> None:
        self.load, self.raw, self.plans, self.schema, self.key = load, raw, plans, schema, key
        self.lake_types = lake_types

    def run(self) -> "Outcome | None":
        from pyspark.sql import functions as F

        from .loader import Outcome

        load, a, state, spark = self.load, self.load.args, self.load.state, self.load.spark
        write = self.schema.write_types
        by_name = {p.name: p for p in self.plans}
        key_plans = [by_name[k] for k in self.key]
        key_exprs = [f"CAST(({p.expr}) AS {write[p.name]})" for p in key_plans]
        key_flags = [f"coalesce(({f}), false)" for p in key_plans for f in (p.bad, p.nulled, p.clamped) if f]
        utc = columns.utc_session(spark)
        others = [p for p in self.plans if p.name not in self.key]
        compares = [(p.name, raw_compare(p, write[p.name], utc)) for p in others]
        lake_df = load.lake_frame([(n, write[n]) for n in [*self.key, *(p.name for p in others)]],
                                  set(self.lake_types), at=state.snapshot_before)

        state.phase("merge: count the keys")
        # Rows and repeated or NULL keys of each side, from the key columns alone.
        integer = len(self.key) == 1 and write[self.key[0]] in source.INTEGER_TYPES
        source_keys, lake_keys = key_counts_of_both(self.raw, key_exprs, lake_df, [quote(k) for k in self.key], integer)
        if source_keys[1] or lake_keys[1] or source_keys[0] == 0:
            return None
        state.phase("merge: compare the export with the lake")
        stage = candidate_rows(self.raw, lake_df, self.key, key_exprs, compares, " OR ".join(key_flags) or None)
        # One pass; only the rows that may change are kept (materialized, so later steps see the same rows).
        stage = stage.where(F.col(S_OP).isNotNull()).localCheckpoint(eager=True)
        found = stage_counts(stage, source_keys, lake_keys)
        log.info("%s: %d exported rows, %d lake rows: %d new, %d gone, %d to compare typed",
                 a.lake_table_id, found.source_rows, found.lake_rows, found.inserts, found.deletes, found.candidates)
        if found.anomalies or found.source_rows == 0:
            return None
        state.rows_read, state.count_before = found.source_rows, found.lake_rows
        if found.inserts == found.deletes == found.candidates == 0:
            # Every exported row is its lake row as the export writes it: nothing to cast, check or change.
            load.apply_schema(self.schema)
            return Outcome("merge", rows_after=state.count_before)

        state.phase("merge: check and compare the rows that may differ")
        # The raw values of new and candidate rows came along from stage one: the export is not read again.
        rows = stage.where(F.col(S_OP).isin("I", CANDIDATE)).select(*[quote(n) for n in self.raw.columns])
        checked = source.typed_frame(rows, self.plans, with_checks=True).persist()
        state.cached.append(checked)
        cast = source.check_casts(checked, rows, self.plans, a.target, a.show_values)
        state.nulled, state.clamped = cast.nulled, cast.clamped
        if cast.rows != found.inserts + found.candidates:
            raise InternalError(
                f"table {a.target}: the export gave {cast.rows} rows to compare, expected "
                f"{found.inserts + found.candidates}; the export files changed during the load? Rerun the load"
            )
        typed = checked.select(*[quote(p.name) for p in self.plans])
        names = list(write)
        lake_rows = stage.where(F.col(S_OP) == CANDIDATE).selectExpr(
            *[f"{stage_key(i)} AS {quote(k)}" for i, k in enumerate(self.key)],
            *[f"{quote(LAKE_PREFIX + 'v' + str(j))} AS {quote(p.name)}" for j, p in enumerate(others)],
        ).select(*[quote(n) for n in names])
        upserts = change_set(load.aligned(typed, self.schema), lake_rows, self.key, deletes=False)
        gone = stage.where(F.col(S_OP) == "D").selectExpr(
            *[f"{stage_key(self.key.index(n))} AS {quote(n)}" if n in self.key else f"CAST(NULL AS {write[n]}) AS {quote(n)}"
              for n in names],
            f"'D' AS {quote(OP_COLUMN)}",
        )
        changes = upserts.union(gone).localCheckpoint(eager=True)
        counts = count_ops(changes)
        if counts["I"] != found.inserts or counts["D"] != found.deletes or counts["U"] > found.candidates:
            raise InternalError(f"table {a.target}: the change set disagrees with the comparison "
                                f"({counts} vs {found}); rerun the load")

        load.guard_deletes(counts["D"], state.count_before)
        outcome = Outcome("merge", counts["I"], counts["U"], counts["D"],
                          rows_after=state.count_before + counts["I"] - counts["D"])
        load.apply_schema(self.schema)
        if sum(counts.values()):
            state.phase("merge: commit")
            load.merge_changes("merge", changes, self.schema, self.key, self.key_filter(changes, sum(counts.values())))
        return outcome

    def key_filter(self, changes: "DataFrame", total: int) -> str | None:
        """`t.<key> IN (...)` over the change set's keys: the MERGE's scan of the table keeps only those rows.

        Adds nothing to the MERGE's meaning (a row with another key matches no change) and spares
        the shuffle of every table row; only for one-column integer or text keys and modest change sets
        (50,000 keys of 2 KB would be 100 MB of SQL text).
        """
        if len(self.key) != 1 or total > KEY_LIST_LIMIT:
            return None
        name = self.key[0]
        type_ = self.schema.write_types[name]
        if type_ not in LISTED_KEY_TYPES:
            return None
        if type_ == "string":
            from pyspark.sql import functions as F

            characters = changes.select(F.sum(F.length(F.col(quote(name))))).first()[0] or 0
            if characters > KEY_LIST_CHARACTERS:
                return None
        values = [r[0] for r in changes.select(quote(name)).collect()]
        literals = [sql_string(v) if type_ == "string" else str(int(v)) for v in values]
        return f"t.{quote(name)} IN ({', '.join(literals)})"
