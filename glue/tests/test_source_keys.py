"""The key check before a create: one integer key is checked as a bitmap (or, in a small export, from its values),
exactly as the grouping of all keys decides."""
from __future__ import annotations

from typing import Any

import pytest

from lakesync_glue import create_path, source
from lakesync_glue.errors import DuplicateKeys
from lakesync_glue.pgtypes import ColumnMapping, plan_column

LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
DENSE = list(range(1, 1001))
AROUND_ZERO = list(range(-500, 501))
LIMITS = [LONG_MIN, LONG_MIN + 1, LONG_MIN + 63, LONG_MIN + 64, -65, -64, -63, -1, 0, 1, 63, 64, 65,
          LONG_MAX - 64, LONG_MAX - 63, LONG_MAX - 1, LONG_MAX]
SPARSE = [i * 1_000_003 - 2**62 for i in range(1, 1001)]

# (name, key type, key values, whether a key repeats or is NULL)
CASES = [
    ("dense distinct", "bigint", DENSE, False),
    ("dense, one repeat at a word's first bit", "bigint", [*DENSE, 65], True),
    ("dense, one repeat at a word's last bit", "bigint", [*DENSE, 64], True),
    ("dense, one repeat in the first word", "bigint", [*DENSE, 1], True),
    ("dense, one repeat in the last word", "bigint", [*DENSE, 1000], True),
    ("dense with a NULL key", "bigint", [*DENSE, None], True),
    ("dense with a NULL key and no repeat elsewhere", "bigint", [None, *DENSE[1:]], True),
    ("around zero distinct", "bigint", AROUND_ZERO, False),
    ("around zero, -64 repeated", "bigint", [*AROUND_ZERO, -64], True),
    ("around zero, -1 repeated", "bigint", [*AROUND_ZERO, -1], True),
    ("around zero, 0 repeated", "bigint", [*AROUND_ZERO, 0], True),
    ("bigint limits distinct", "bigint", LIMITS, False),
    ("bigint limits, the smallest repeated", "bigint", [*LIMITS, LONG_MIN], True),
    ("bigint limits, the largest repeated", "bigint", [*LIMITS, LONG_MAX], True),
    ("bigint limits, LONG_MIN + 64 repeated", "bigint", [*LIMITS, LONG_MIN + 64], True),
    ("sparse distinct", "bigint", SPARSE, False),
    ("sparse, one repeat", "bigint", [*SPARSE, SPARSE[500]], True),
    ("sparse with a NULL key", "bigint", [*SPARSE, None], True),
    ("int limits distinct", "int", [INT_MIN, INT_MIN + 1, -1, 0, 1, INT_MAX - 1, INT_MAX], False),
    ("int limits, the smallest repeated", "int", [INT_MIN, INT_MIN + 1, 0, INT_MAX, INT_MIN], True),
    ("int dense, one repeat", "int", [*DENSE, 500], True),
    ("smallint distinct", "smallint", [-32768, -1, 0, 1, 32767], False),
    ("smallint, one repeat", "smallint", [-32768, -1, 0, 1, 32767, 32767], True),
    ("no rows", "bigint", [], False),
]


@pytest.mark.parametrize(("name", "key_type", "values", "problem"), CASES, ids=[c[0] for c in CASES])
def test_an_integer_key_is_checked_exactly_without_grouping_every_key(
    spark: Any, monkeypatch: pytest.MonkeyPatch, name: str, key_type: str, values: list[int | None], problem: bool
) -> None:
    frame = spark.createDataFrame([(v, i) for i, v in enumerate(values)], f"`my id` {key_type}, other int")
    assert (source.key_problems(frame, ["my id"]).count() > 0) == problem, "the grouping decides as expected"

    def no_grouping(*_: Any) -> Any:
        raise AssertionError("an integer key is checked without a grouping of every key")

    monkeypatch.setattr(source, "key_problems", no_grouping)
    assert source.duplicate_keys_exist(frame, ["my id"]) == problem, name

    def no_bitmap(*_: Any) -> Any:
        raise AssertionError("a small export's key is read into the driver")

    # A small export: the values themselves decide, as the bitmap does.
    with monkeypatch.context() as small:
        small.setattr(source, "integer_key_counts", no_bitmap)
        assert source.duplicate_keys_exist(frame, ["my id"], small=True) == problem, name
    # More values than FEW_KEYS after all: the bitmap decides.
    counted: list[str] = []
    original = source.integer_key_counts
    monkeypatch.setattr(source, "FEW_KEYS", 10)
    monkeypatch.setattr(source, "integer_key_counts", lambda f, k: counted.append(k) or original(f, k))
    assert source.duplicate_keys_exist(frame, ["my id"], small=True) == problem, name
    assert counted == (["`my id`"] if len(values) > 10 else []), "the bitmap is used past FEW_KEYS only"


@pytest.mark.parametrize(("schema", "key", "rows"), [
    ("id string, other int", ["id"], [("a", 1), ("b", 2), ("a", 3)]),
    ("id bigint, other int", ["id", "other"], [(1, 1), (1, 2), (1, 1)]),
    ("id decimal(20,0), other int", ["id"], [(1, 1), (2, 2), (1, 3)]),
], ids=["text key", "two key columns", "decimal key"])
def test_other_keys_keep_the_grouping(spark: Any, schema: str, key: list[str], rows: list[tuple[Any, ...]]) -> None:
    from decimal import Decimal

    frame = spark.createDataFrame([tuple(Decimal(v) if "decimal" in schema and i == 0 else v for i, v in enumerate(r))
                                   for r in rows], schema)
    grouped: list[list[str]] = []
    original = source.key_problems

    def spy(typed: Any, k: list[str]) -> Any:
        grouped.append(list(k))
        return original(typed, k)

    try:
        source.key_problems = spy  # type: ignore[assignment]
        assert source.duplicate_keys_exist(frame, key)
        assert not source.duplicate_keys_exist(frame.limit(0), key)
    finally:
        source.key_problems = original  # type: ignore[assignment]
    assert grouped == [key, key]


ID = plan_column(ColumnMapping("id", "bigint", "int64"), "id", "bigint")
NOTE = plan_column(ColumnMapping("note", "text", "binary (UTF8)"), "note", "string")


def test_a_repeated_or_null_integer_key_fails_the_create_with_the_full_message(spark: Any) -> None:
    raw = spark.createDataFrame([(1, "a"), (2, "b"), (4, "c"), (4, "d"), (None, "e"), (2**63 - 1, "f")],
                                "id bigint, note string")
    with pytest.raises(DuplicateKeys) as hidden:
        create_path.check_new_keys(raw, [ID, NOTE], ["id"], "shop.public.orders")
    assert hidden.value.message == (
        "table shop.public.orders: primary key (id): 1 key value(s) appear in more than one row and 1 row(s) have a "
        "NULL key column; example values are not shown: set errors.showValues to true on the source to include them. "
        "A key must identify one row: fix --primary_key or the source data"
    )
    with pytest.raises(DuplicateKeys) as shown:
        create_path.check_new_keys(raw, [ID, NOTE], ["id"], "shop.public.orders", show_values=True)
    with pytest.raises(DuplicateKeys) as full:
        source.check_keys(raw.select("id"), ["id"], "shop.public.orders", show_values=True)
    assert shown.value.message == full.value.message
    assert "(id=4) x2" in shown.value.message and "(id=None) x1" in shown.value.message
    create_path.check_new_keys(raw.where("id <> 4"), [ID, NOTE], ["id"], "shop.public.orders")


def test_rows_with_a_null_key_are_not_counted_as_a_repeated_key_value(spark: Any) -> None:
    raw = spark.createDataFrame([(1, "a"), (None, "b"), (None, "c"), (2, "d")], "id bigint, note string")
    with pytest.raises(DuplicateKeys) as failed:
        source.check_keys(raw.select("id"), ["id"], "shop.public.orders", show_values=True)
    message = failed.value.message
    assert "primary key (id): 2 row(s) have a NULL key column; e.g. (id=None) x2" in message, message
    assert "appear in more than one row" not in message, message


def test_a_key_repeated_only_by_a_clamped_infinity_says_so_and_what_to_do(spark: Any) -> None:
    from lakesync_glue.errors import LoadError

    day = plan_column(ColumnMapping("day", "date", "binary (UTF8)"), "day", "string")
    raw = spark.createDataFrame([("infinity", "a"), ("9999-12-31", "b"), ("2024-01-01", "c")], "day string, note string")
    with pytest.raises(LoadError) as failed:
        create_path.check_new_keys(raw, [day, NOTE], ["day"], "shop.public.days")
    message = failed.value.message
    assert failed.value.error_class == "DuplicateKeys", message
    assert "'infinity'" in message and "9999-12-31" in message and "day" in message, message
    assert "clamped" in message and "primary key" in message, message
