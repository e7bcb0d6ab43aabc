"""Query answers for the embedded mode (lakesync query, verification): JSON that keeps every value as it is."""
from __future__ import annotations

from typing import Any

from lakesync_glue.query import run_query


def test_integers_beyond_what_a_json_number_keeps_exactly_are_sent_as_text(spark: Any) -> None:
    """A JSON reader holds numbers as doubles: 9007199254740993 would read back as ...992."""
    rows = run_query(spark, "SELECT CAST(9007199254740993 AS BIGINT) AS big, CAST(-9007199254740993 AS BIGINT) AS low, "
                            "CAST(9007199254740991 AS BIGINT) AS safe, 7 AS small")
    assert rows == [{"big": "9007199254740993", "low": "-9007199254740993", "safe": 9007199254740991, "small": 7}]
