"""Query answers for the embedded mode (lakesync query, verification): JSON that keeps every value as it is."""
from __future__ import annotations

from typing import Any

from lakesync_glue.query import run_query


def test_integers_beyond_what_a_json_number_keeps_exactly_are_sent_as_text(spark: Any) -> None:
    """A JSON reader holds numbers as doubles: 9007199254740993 would read back as ...992."""
    rows = run_query(spark, "SELECT CAST(9007199254740993 AS BIGINT) AS big, CAST(-9007199254740993 AS BIGINT) AS low, "
                            "CAST(9007199254740991 AS BIGINT) AS safe, 7 AS small")
    assert rows == [{"big": "9007199254740993", "low": "-9007199254740993", "safe": 9007199254740991, "small": 7}]


def test_columns_of_one_name_each_keep_their_value(spark: Any) -> None:
    """SELECT a.id, b.id answers two columns named id: the second is id_2, not lost."""
    rows = run_query(spark, "SELECT 1 AS id, 2 AS id, 3 AS id_2, 4 AS id")
    assert rows == [{"id": 1, "id_2": 2, "id_2_2": 3, "id_3": 4}]
