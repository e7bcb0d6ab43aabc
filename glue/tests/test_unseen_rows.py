"""unseen_rows: the source rows an append load inserts, as multisets, with columns added to the lake later."""
from __future__ import annotations

from collections import Counter
from typing import Any

from lakesync_glue.changes import unseen_rows

# `extra` is new in the source: not compared, kept in the result.
SOURCE = "id BIGINT, at STRING, a BIGINT, b BIGINT, extra STRING"
LAKE = "id BIGINT, at STRING, a BIGINT, b BIGINT"
COMPARE = ["id", "at", "a", "b"]
AT = "2024-01-01"


def unseen(spark: Any, source: list[tuple[Any, ...]], lake: list[tuple[Any, ...]],
           added: list[str]) -> list[tuple[Any, ...]]:
    rows = unseen_rows(spark.createDataFrame(source, SOURCE), spark.createDataFrame(lake, LAKE), COMPARE, added)
    assert rows.columns == ["id", "at", "a", "b", "extra"]
    return [tuple(r) for r in rows.collect()]


def test_two_added_columns_pair_each_older_lake_row_with_a_source_row_it_fits(spark: Any) -> None:
    # Ordered by the added columns, the lake row (a=1, b=NULL) comes second and so does the source row
    # (3, 4): pairing by position would leave (3, 4) unmatched, yet (1, NULL) fits (1, 2) and (NULL, NULL)
    # fits (3, 4).
    lake = [(1, AT, None, None), (1, AT, 1, None)]
    source = [(1, AT, 1, 2, "p"), (1, AT, 3, 4, "q")]
    assert unseen(spark, source, lake, ["a", "b"]) == []


def test_rows_loaded_before_each_of_two_columns_and_after_both_are_all_matched(spark: Any) -> None:
    # Patterns (NULL, NULL), (x, NULL) and (x, y), all inside one group of the other columns; id 2 is new.
    lake = [(1, AT, None, None), (1, AT, 1, None), (1, AT, 1, 2)]
    source = [(1, AT, 1, 2, "p"), (1, AT, 1, 5, "q"), (1, AT, 3, 4, "r"), (2, AT, 1, 5, "s")]
    assert unseen(spark, source, lake, ["a", "b"]) == [(2, AT, 1, 5, "s")]
    # A lake row with a value in an added column never matches another value there: (7, NULL) fits
    # none of the three, (NULL, NULL) fits any one of them.
    lake_ahead = [(1, AT, None, None), (1, AT, 7, None)]
    assert len(unseen(spark, source[:3], lake_ahead, ["a", "b"])) == 2


def test_a_source_null_in_an_added_column_matches_a_lake_null_not_a_value(spark: Any) -> None:
    # (NULL, NULL) in the source is the lake's (NULL, NULL) as is. (NULL, 5) would fit only that row, which
    # is taken: the lake row (1, NULL) holds another value in a, so (NULL, 5) is new.
    lake = [(1, AT, None, None), (1, AT, 1, None)]
    source = [(1, AT, None, None, "p"), (1, AT, None, 5, "q")]
    assert unseen(spark, source, lake, ["a", "b"]) == [(1, AT, None, 5, "q")]
    # The source's NULL fits the older lake row, which holds NULL in both added columns.
    assert unseen(spark, [(1, AT, None, 5, "q"), (1, AT, 1, 6, "r")], lake, ["a", "b"]) == []


def test_repeated_rows_are_counted_exactly(spark: Any) -> None:
    lake = [(1, AT, None, None)] * 3 + [(1, AT, 1, None)] * 2 + [(1, AT, 1, 2)] \
        + [(2, AT, None, None)] + [(3, AT, 5, 5)]
    source = [(1, AT, 1, 2, "p")] * 2 + [(1, AT, 1, 3, "q")] * 3 + [(1, AT, 4, 4, "r")] * 2 \
        + [(3, AT, 5, 5, "s")] * 2
    rows = unseen(spark, source, lake, ["a", "b"])
    # id 1: 7 source rows against 6 lake rows that fit them one to one (the exact one, two with a=1, three
    # older than both columns); id 2: a lake row the source lacks adds nothing; id 3: the source has one more.
    assert Counter(r[0] for r in rows) == Counter({1: 1, 3: 1})
    assert (3, AT, 5, 5, "s") in rows


def test_one_added_column_and_none(spark: Any) -> None:
    lake = [(1, AT, None, None), (1, AT, 5, None), (1, AT, 2, 2)]
    source = [(1, AT, 3, None, "p"), (1, AT, 7, None, "q"), (1, AT, 2, 2, "r"), (1, AT, 2, 2, "s")]
    # One of 3 and 7 takes the lake's NULL; 5 fits neither; one copy of (2, 2) is new.
    rows = unseen(spark, source, lake, ["a"])
    assert len(rows) == 2 and sorted(r[2] for r in rows) in ([2, 3], [2, 7])
    # Without added columns every column is compared as it reads.
    assert sorted(r[2] for r in unseen(spark, source, lake, [])) == [2, 3, 7]


def test_a_rederived_column_matches_any_value_one_to_one_after_the_exact_rows(spark: Any) -> None:
    # b was derived otherwise for some lake rows (9 and 8: the old values of 2 and 3): each lake row left after
    # the exact pass pairs with one source row equal on the other columns, whatever b holds; the row
    # written the load's way (1, AT, 1, 4) pairs with its own source row first.
    lake = [(1, AT, 1, 9), (1, AT, 1, 8), (1, AT, 1, 4)]
    source = [(1, AT, 1, 2, "p"), (1, AT, 1, 3, "q"), (1, AT, 1, 4, "r"), (1, AT, 1, 5, "s"), (2, AT, 1, 2, "t")]
    rows = unseen_rows(spark.createDataFrame(source, SOURCE), spark.createDataFrame(lake, LAKE), COMPARE, [], ["b"])
    new = sorted(tuple(r) for r in rows.collect())
    # One of p, q, s is new (which one is not known: the lake does not say which rows were derived the old way).
    assert len(new) == 2 and new[-1] == (2, AT, 1, 2, "t") and new[0][4] in ("p", "q", "s")
    # a stays strict: a lake row that differs there is no match.
    assert len(unseen_rows(spark.createDataFrame(source[:1], SOURCE), spark.createDataFrame([(1, AT, 7, 9)], LAKE),
                           COMPARE, [], ["b"]).collect()) == 1
