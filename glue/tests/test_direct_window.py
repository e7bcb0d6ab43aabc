"""The direct window's SQL and partition bounds (pure: no Spark, no database)."""
from __future__ import annotations

from lakesync_glue.direct import SourceColumn, Window, literal, range_bounds, source_column


def column(name: str, data_type: str, udt: str, domain: str | None = None) -> SourceColumn:
    row = {"name": name, "data_type": data_type, "udt_name": udt, "char_len": None, "num_precision": None,
           "num_scale": None, "dt_precision": None, "domain_name": domain}
    found = source_column(row)
    assert found is not None
    return found


ID = column("id", "bigint", "int8")
CODE = column("Code", "text", "text")


def test_the_predicate_bounds_the_window_on_both_sides() -> None:
    assert Window(False, "900", "1200").predicate(ID) == "(\"id\" >= E'900' AND \"id\" <= E'1200')"
    # A create also reads the rows without a cursor; rows that get one after the bound query wait.
    assert Window(True, None, "1200").predicate(ID) == "(\"id\" <= E'1200' OR \"id\" IS NULL)"
    assert Window(True, None, None).predicate(ID) == '"id" IS NULL'
    assert Window(False, "900", None).predicate(ID) == "FALSE"
    assert Window(False, None, "5").predicate(ID) == "(\"id\" IS NOT NULL AND \"id\" <= E'5')"
    # Text compares in byte order, as Spark's max() on the lake column; quotes and backslashes are doubled.
    assert Window(False, "it's", "z").predicate(CODE) == (
        "((\"Code\")::text COLLATE \"C\" >= E'it''s' AND (\"Code\")::text COLLATE \"C\" <= E'z')")


def test_literals_read_the_same_whatever_standard_conforming_strings_says() -> None:
    # An escape string: `\` escapes under either setting, so a value's own backslash cannot end the literal.
    assert literal("a\\' OR TRUE --") == "E'a\\\\'' OR TRUE --'"
    assert literal("") == "E''"


def test_columns_are_selected_as_the_export_writes_them() -> None:
    assert ID.select() == '"id"' and ID.mapping.expected_exported_type == "int64"
    assert column("n", "numeric", "numeric").select() == '"n"::text'
    assert column("c", "character", "bpchar").select().startswith("CASE WHEN \"c\" IS NULL")
    as_domain = column("qty", "integer", "int4", domain="positive_int")
    assert as_domain.mapping.expected_exported_type == "binary (UTF8)" and "format('%s'" in as_domain.select()
    assert source_column({"name": "o", "data_type": "oid", "udt_name": "oid", "char_len": None, "num_precision": None,
                          "num_scale": None, "dt_precision": None, "domain_name": None}) is None


def test_range_bounds_only_for_finite_numbers_and_times() -> None:
    ts = column("at", "timestamp with time zone", "timestamptz")
    assert range_bounds(ID, Window(True, None, "9", range_low="1", range_high="9")) == ("1", "9")
    assert range_bounds(ID, Window(True, None, None)) is None
    assert range_bounds(column("f", "double precision", "float8"), Window(True, None, "NaN", range_low="1", range_high=None)) is None
    assert range_bounds(ID, Window(True, None, "x", range_low="1", range_high=str(2**64))) is None
    window = Window(True, None, "x", range_low="2024-05-01 00:00:00.000000", range_high="2024-05-02 00:00:00.000000")
    assert range_bounds(ts, window) == ("2024-05-01 00:00:00.000000", "2024-05-02 00:00:00.000000")
    assert range_bounds(CODE, Window(True, None, "z", range_low="a", range_high="z")) is None
