"""Row values in error messages: hidden unless the source opts in (--show_values true).

A cast or key error names the table, the column, the count and the reason either way; the
values themselves travel (into the result JSON, the workflow history and the CLI) only with
show_values.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from conftest import Loader, make_args
from exportkit import TableData, col, write_export
from lakesync_glue.errors import InvalidArgument

CAST_SECRET = "98765.4321"  # does not fit numeric(6,2)
DATE_SECRET = "2024-13-45"
KEY_SECRET = 424242


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("error-values")
    export = write_export(root, [
        TableData("shop", "public", "bad_casts", [col("id", "bigint"), replace(col("amount", "numeric(6,2)"), num_scale=2), col("day", "date")],
                  [(1, "1.50", "2024-01-01"), (2, CAST_SECRET, DATE_SECRET)]),
        TableData("shop", "public", "dup_keys", [col("id", "bigint"), col("name", "text")],
                  [(KEY_SECRET, "a"), (KEY_SECRET, "b"), (None, "c"), (1, "d")]),
    ])
    return export.path


def _message(result: Any, error_class: str) -> str:
    assert result.status == "failed" and result.error is not None
    assert result.error["class"] == error_class
    return str(result.error["message"])


def test_show_values_is_off_unless_asked_for() -> None:
    base = ("/e/x", "shop.public.t", "t", "/r/t.json", "/w", "replace")
    assert make_args(*base).show_values is False
    assert make_args(*base, show_values="true").show_values is True
    with pytest.raises(InvalidArgument, match="--show_values 'yes': must be true or false"):
        make_args(*base, show_values="yes")


def test_a_cast_error_without_show_values_names_column_count_and_reason_but_no_value(load: Loader, export_dir: str) -> None:
    message = _message(load(export_dir, "shop.public.bad_casts", "bad_casts_hidden", action="create", primary_key="id"), "CastError")
    assert "shop.public.bad_casts" in message
    assert "column 'amount' (numeric) has 1 value(s) that cannot become decimal(6,2)" in message
    assert "column 'day' (date) has 1 value(s) that cannot become date" in message
    assert "expected a number with at most 4 integer and 2 fractional digits" in message
    assert CAST_SECRET not in message and DATE_SECRET not in message
    assert "errors.showValues" in message  # says how to see examples


def test_a_cast_error_with_show_values_quotes_an_example(load: Loader, export_dir: str) -> None:
    message = _message(load(export_dir, "shop.public.bad_casts", "bad_casts_shown", action="create", primary_key="id",
                            show_values="true"), "CastError")
    assert f"column 'amount' (numeric) has 1 value(s) that cannot become decimal(6,2), e.g. '{CAST_SECRET}'" in message
    assert f"e.g. '{DATE_SECRET}'" in message


def test_a_duplicate_key_error_without_show_values_has_counts_but_no_key_value(load: Loader, export_dir: str) -> None:
    message = _message(load(export_dir, "shop.public.dup_keys", "dup_keys_hidden", action="create", primary_key="id"), "DuplicateKeys")
    assert "shop.public.dup_keys" in message and "primary key (id)" in message
    assert "1 key value(s) appear in more than one row" in message and "1 row(s) have a NULL key column" in message
    assert str(KEY_SECRET) not in message
    assert "errors.showValues" in message


def test_a_duplicate_key_error_with_show_values_quotes_the_keys(load: Loader, export_dir: str) -> None:
    message = _message(load(export_dir, "shop.public.dup_keys", "dup_keys_shown", action="create", primary_key="id",
                            show_values="true"), "DuplicateKeys")
    assert f"(id={KEY_SECRET}) x2" in message and "(id=None) x1" in message


def test_the_result_file_carries_no_value_either(load: Loader, export_dir: str) -> None:
    result = load(export_dir, "shop.public.bad_casts", "bad_casts_file", action="create", primary_key="id")
    assert result.error is not None
    text = result.to_json()
    assert CAST_SECRET not in text and DATE_SECRET not in text


HUGE = "9" * 200_000  # a value of 200 KB; a 1 GB text value would be quoted the same way


@pytest.fixture(scope="module")
def huge_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("error-values-huge")
    export = write_export(root, [
        TableData("shop", "public", "huge_cast", [col("id", "bigint"), replace(col("amount", "numeric(6,2)"), num_scale=2)],
                  [(1, "1.50"), (2, HUGE)]),
        TableData("shop", "public", "huge_keys", [col("code", "text"), col("name", "text")],
                  [(HUGE, "a"), (HUGE, "b")]),
    ])
    return export.path


@pytest.mark.parametrize(("table", "key", "error_class"), [("huge_cast", "id", "CastError"), ("huge_keys", "code", "DuplicateKeys")])
def test_a_quoted_value_is_cut_so_the_error_stays_small(load: Loader, huge_dir: str, table: str, key: str,
                                                        error_class: str) -> None:
    result = load(huge_dir, f"shop.public.{table}", f"{table}_shown", action="create", primary_key=key, show_values="true")
    message = _message(result, error_class)
    assert len(message) < 2_000, len(message)
    assert "9" * 150 in message and "(200002 characters in all)" in message
    assert len(result.to_json()) < 4_000
