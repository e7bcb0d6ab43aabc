"""DynamoDB JSON into typed columns and `_attributes`: every type, exact numbers, column policies."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from dynamodbkit import B, N, S, DdbLoad, ddb_load, export_entry, item, write_export  # noqa: F401 - the fixture
from lakesync_glue.query import run_query

T1 = "2025-01-01T00:00:00Z"
HASH_ENV = "LAKESYNC_TEST_DDB_HASH_KEY"

# One item per DynamoDB type, beside the key (pk S, sk N) and the declared attributes.
ITEMS = [
    {"pk": S("a"), "sk": N("1"), "total": N("12.5"), "status": S("open"), "paid": {"BOOL": True}, "qty": N("3"),
     "blob": B(b"\x00\xffhi"), "meta": {"M": {"x": N("1.10"), "y": {"L": [S("z"), {"NULL": True}]}}},
     "tags": {"SS": ["b", "a"]}, "scores": {"NS": ["1", "2.5"]}, "bins": {"BS": [B(b"\x01")["B"]]},
     "list": {"L": [N("1"), {"BOOL": False}, {"M": {}}]}, "nothing": {"NULL": True}, "email": S("secret@example.com"),
     "rating": N("4.25")},
    {"pk": S("b"), "sk": N("2"), "total": N("-0.01"), "status": {"NULL": True}, "paid": {"BOOL": False}, "qty": N("-7"),
     "email": S("other-secret@example.com"), "note": S("ünïcode \"quoted\" \\ text")},
]
ATTRS = {"total": "decimal(12,2)", "status": "string", "paid": "boolean", "qty": "bigint", "blob": "binary",
         "meta": "json", "rating": "double"}

def rows(spark: Any, table: str) -> list[dict[str, Any]]:
    return run_query(spark, f"SELECT * FROM lake.tests.{table} ORDER BY 1, 2")


def columns(spark: Any, table: str) -> list[tuple[str, str]]:
    return [(r["col_name"], r["data_type"]) for r in run_query(spark, f"DESCRIBE TABLE lake.tests.{table}")
            if r["col_name"] and not r["col_name"].startswith("#")][:20]


KEY = [("pk", "S"), ("sk", "N")]


def test_every_type_becomes_a_typed_column_or_lossless_json(ddb_load: DdbLoad, spark: Any, tmp_path: Path) -> None:
    location = write_export(tmp_path, "e-types", [item(i) for i in ITEMS])
    result = ddb_load("Types", "ddb_types", [export_entry("e-types", location, T1, item_count=2)], KEY, ATTRS,
                      column_policies=json.dumps({"email": {"exclude": True}}))
    assert result.status == "succeeded", result.error
    assert (result.action, result.rowsRead, result.inserted, result.extract) == ("create", 2, 2, "dynamodb")
    cols = dict(columns(spark, "ddb_types"))
    assert list(cols) == ["pk", "sk", "total", "status", "paid", "qty", "blob", "meta", "rating", "_attributes"]
    assert cols["sk"] == "decimal(38,0)" and cols["total"] == "decimal(12,2)" and cols["qty"] == "bigint"
    assert cols["rating"] == "double" and cols["blob"] == "binary" and cols["paid"] == "boolean"
    got = rows(spark, "ddb_types")
    a, b = got
    assert (a["pk"], a["sk"], a["total"], a["status"], a["paid"], a["qty"], a["rating"]) == ("a", "1", "12.50", "open", True, 3, 4.25)
    assert a["blob"] == B(b"\x00\xffhi")["B"]  # run_query shows binary as base64
    assert json.loads(a["meta"]) == ITEMS[0]["meta"]
    assert (b["total"], b["status"], b["paid"], b["qty"], b["blob"], b["meta"]) == ("-0.01", None, False, -7, None, None)
    # Everything else round-trips: `_attributes` parsed back equals the item without its typed and excluded attributes.
    typed = {"pk", "sk", *ATTRS, "email"}
    for row, source in zip(got, ITEMS):
        assert json.loads(row["_attributes"]) == {k: v for k, v in source.items() if k not in typed}
    assert json.loads(b["_attributes"]) == {"note": S("ünïcode \"quoted\" \\ text")}


def test_excluded_attribute_appears_nowhere_in_the_lake(ddb_load: DdbLoad, spark: Any, tmp_path: Path) -> None:
    location = write_export(tmp_path, "e-excl", [item(i) for i in ITEMS])
    policies = {"email": {"exclude": True}, "status": {"exclude": True}}
    result = ddb_load("Excl", "ddb_excl", [export_entry("e-excl", location, T1)], KEY,
                      {**ATTRS, "email": "string"}, column_policies=json.dumps(policies))
    assert result.status == "succeeded", result.error
    dump = json.dumps(rows(spark, "ddb_excl"))
    assert "secret@example.com" not in dump and "email" not in dump
    assert "open" not in dump  # the excluded declared attribute leaves the typed columns and _attributes
    assert "status" not in dict(columns(spark, "ddb_excl")) and "email" not in dict(columns(spark, "ddb_excl"))


def test_hash_rename_and_type_apply_as_for_postgresql_columns(ddb_load: DdbLoad, spark: Any, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib
    import hmac

    monkeypatch.setenv(HASH_ENV, "k3y")
    location = write_export(tmp_path, "e-pol", [item(i) for i in ITEMS])
    policies = {"status": {"hash": True}, "total": {"rename": "amount", "type": "double"}, "qty": {"type": "int"}}
    result = ddb_load("Pol", "ddb_pol", [export_entry("e-pol", location, T1)], KEY, ATTRS,
                      column_policies=json.dumps(policies), hash_key_env=HASH_ENV)
    assert result.status == "succeeded", result.error
    cols = dict(columns(spark, "ddb_pol"))
    assert cols["amount"] == "double" and "total" not in cols and cols["qty"] == "int" and cols["status"] == "string"
    a, b = rows(spark, "ddb_pol")
    assert a["status"] == hmac.new(b"k3y", b"open", hashlib.sha256).hexdigest() and b["status"] is None
    assert (a["amount"], b["amount"], a["qty"]) == (12.5, -0.01, 3)


def test_a_number_that_does_not_fit_fails_and_is_never_rounded(ddb_load: DdbLoad, spark: Any, tmp_path: Path) -> None:
    items = [{"pk": S("x"), "sk": N(1), "total": N("1.005")}, {"pk": S("y"), "sk": N(2), "total": N("12345678901.5")},
             {"pk": S("z"), "sk": N(3), "total": S("12.00")}, {"pk": S("w"), "sk": N(4), "total": N("2.5")},
             {"pk": S("v"), "sk": N(5), "total": N("7.2500")}]  # zeros past the scale lose nothing
    location = write_export(tmp_path, "e-bad", [item(i) for i in items])
    exports = [export_entry("e-bad", location, T1)]
    result = ddb_load("Orders", "ddb_bad", exports, KEY, {"total": "decimal(12,2)"})
    assert result.status == "failed" and result.error is not None
    assert result.error["class"] == "AttributeTypeMismatch" and result.error["retryable"] is False
    message = result.error["message"]
    assert "dynamodb.Orders" in message and "'total'" in message and "3 value(s)" in message
    assert "1.005" not in message and "12345678901" not in message and 'onInvalid: "null"' in message
    assert not run_query(spark, "SHOW TABLES IN lake.tests LIKE 'ddb_bad'")
    shown = ddb_load("Orders", "ddb_bad", exports, KEY, {"total": "decimal(12,2)"}, show_values="true")
    assert shown.error is not None and "1.005" in shown.error["message"]
    nulled = ddb_load("Orders", "ddb_bad", exports, KEY, {"total": "decimal(12,2)"},
                      column_policies=json.dumps({"total": {"onInvalid": "null"}}))
    assert nulled.status == "succeeded", nulled.error
    assert nulled.nulledValues == {"total": 3}
    assert [(r["pk"], r["total"]) for r in run_query(spark, "SELECT pk, total FROM lake.tests.ddb_bad ORDER BY sk")] == [
        ("x", None), ("y", None), ("z", None), ("w", "2.50"), ("v", "7.25")]


def test_n_is_decimal_unless_double_is_declared(ddb_load: DdbLoad, spark: Any, tmp_path: Path) -> None:
    items = [{"pk": S("x"), "sk": N("123456789012345678901234567890"), "f": N("0.1")}]
    location = write_export(tmp_path, "e-num", [item(i) for i in items], files=1)
    result = ddb_load("Num", "ddb_num", [export_entry("e-num", location, T1)], KEY, {"f": "decimal(38,37)"})
    assert result.status == "succeeded", result.error
    row = rows(spark, "ddb_num")[0]
    assert row["sk"] == "123456789012345678901234567890" and row["f"] == "0.1" + "0" * 36


def test_a_number_key_declared_string_keeps_its_text(ddb_load: DdbLoad, spark: Any, tmp_path: Path) -> None:
    """A config may keep an N key as string (both sides accept it): the key's number text, never a failure."""
    items = [{"pk": S("x"), "sk": N("7")}, {"pk": S("x"), "sk": N("123456789012345678901234567890.5")}]
    location = write_export(tmp_path, "e-nkey", [item(i) for i in items], files=1)
    result = ddb_load("NKey", "ddb_nkey", [export_entry("e-nkey", location, T1)], KEY, {"sk": "string"})
    assert result.status == "succeeded", result.error
    assert sorted(r["sk"] for r in rows(spark, "ddb_nkey")) == ["123456789012345678901234567890.5", "7"]
    # A declared attribute that is no key stays strict: an N is no string.
    strict = write_export(tmp_path, "e-nattr", [item({"pk": S("y"), "sk": N("1"), "code": N("5")})], files=1)
    refused = ddb_load("NKey", "ddb_nattr", [export_entry("e-nattr", strict, T1)], KEY, {"code": "string"})
    assert refused.status == "failed" and refused.error is not None and refused.error["class"] == "AttributeTypeMismatch"


def test_the_null_hint_of_an_attribute_yaml_would_misread_is_a_line_that_sets_that_attribute(
        ddb_load: DdbLoad, tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")
    items = [{"pk": S("x"), "sk": N(1), "@total": N("1.005")}, {"pk": S("y"), "sk": N(2), "@total": N("2.5")}]
    location = write_export(tmp_path, "e-at", [item(i) for i in items])
    result = ddb_load("Orders", "ddb_at", [export_entry("e-at", location, T1)], KEY, {"@total": "decimal(12,2)"})
    assert result.status == "failed" and result.error is not None and result.error["class"] == "AttributeTypeMismatch"
    line = re.search(r"tables: \{.*?\} \} \} \}", result.error["message"])
    assert line is not None, result.error["message"]
    parsed = yaml.safe_load(line.group(0))
    assert parsed["tables"]["dynamodb.Orders"]["columns"] == {"@total": {"onInvalid": "null"}}, line.group(0)


def test_an_attribute_named_with_the_reserved_prefix_loads_once_renamed(ddb_load: DdbLoad, spark: Any,
                                                                        tmp_path: Path) -> None:
    """An attribute's own name never becomes a column: only its lake name may not carry the reserved
    prefix, and a rename (what the plan asks for) sets it apart."""
    records = [item({"pk": S("a"), "sk": N("1"), "__LakeSync_x": S("v")})]
    location = write_export(tmp_path, "e-reserved", records)
    result = ddb_load("Reserved", "ddb_reserved", [export_entry("e-reserved", location, T1)], KEY,
                      {"__LakeSync_x": "string"}, column_policies=json.dumps({"__LakeSync_x": {"rename": "x"}}))
    assert result.status == "succeeded", result.error
    assert [(r["pk"], r["x"], r["_attributes"]) for r in rows(spark, "ddb_reserved")] == [("a", "v", "{}")]
    unnamed = ddb_load("Reserved", "ddb_reserved_2", [export_entry("e-reserved", location, T1)], KEY,
                       {"__LakeSync_x": "string"})
    assert unnamed.error is not None and unnamed.error["class"] == "NameCollision", unnamed.error
    assert "'__LakeSync_x'" in unnamed.error["message"] and "rename" in unnamed.error["message"], unnamed.error


def test_a_type_policy_on_a_declared_attribute_reads_its_declared_dynamodb_type_too(ddb_load: DdbLoad, spark: Any,
                                                                                    tmp_path: Path) -> None:
    """columns.<attribute>.type reads the value as its own type, exactly as DynamoDB wrote it, and also from the
    DynamoDB type the declaration names: a number's text and a boolean's text as a string, a string's number
    text as a number. Values the type read before keep loading the same: numbers into any number type, the
    declared type's range aside, and strings into a string."""
    items = [{"pk": S("a"), "sk": N(1), "price": N("12.5"), "ratio": N("0.25"), "code": S("-42"), "paid": {"BOOL": True},
              "tiny": N("0.00000001"), "exact": N("9007199254740993"), "wide": N("12345678901234567890"),
              "counted": N("3000000000"), "misdeclared": N("5")},
             {"pk": S("b"), "sk": N(2), "price": S("n/a"), "ratio": N("3"), "code": {"NULL": True}, "paid": {"BOOL": False},
              "tiny": N("-0.0000000123"), "exact": N("-1"), "wide": N("1E+2"), "counted": N("0"), "misdeclared": S("6")}]
    location = write_export(tmp_path, "e-cast", [item(i) for i in items])
    attributes = {"price": "decimal(10,2)", "ratio": "decimal(10,2)", "code": "string", "paid": "boolean",
                  "tiny": "decimal(12,10)", "exact": "double", "wide": "double", "counted": "int", "misdeclared": "string"}
    policies = {"price": {"type": "string"}, "ratio": {"type": "double"}, "code": {"type": "bigint"},
                "paid": {"type": "string"}, "tiny": {"type": "string"}, "exact": {"type": "bigint"},
                "wide": {"type": "string"}, "counted": {"type": "bigint"}, "misdeclared": {"type": "bigint"}}
    result = ddb_load("Cast", "ddb_cast", [export_entry("e-cast", location, T1)], KEY, attributes,
                      column_policies=json.dumps(policies))
    assert result.status == "succeeded", result.error
    cols = dict(columns(spark, "ddb_cast"))
    assert [cols[c] for c in policies] == [p["type"] for p in policies.values()]
    a, b = rows(spark, "ddb_cast")
    assert (a["price"], a["ratio"], a["code"], a["paid"], a["tiny"]) == ("12.5", 0.25, -42, "true", "0.00000001")
    # Never through a double: every digit DynamoDB wrote is kept (run_query gives a bigint beyond 2^53 as its text).
    assert (a["exact"], a["wide"], a["counted"], a["misdeclared"]) == ("9007199254740993", "12345678901234567890", 3000000000, 5)
    assert (b["price"], b["ratio"], b["code"], b["paid"], b["tiny"]) == ("n/a", 3.0, None, "false", "-0.0000000123")
    assert (b["exact"], b["wide"], b["counted"], b["misdeclared"]) == (-1, "1E+2", 0, 6)


def test_a_value_the_type_cannot_read_exactly_fails_or_is_nulled(ddb_load: DdbLoad, spark: Any,
                                                                  tmp_path: Path) -> None:
    """A number into an integer type keeps whole numbers only; a string into a number keeps the text of a number
    only, as DynamoDB writes one (no trailing line break, which Java's $ would let through)."""
    items = [{"pk": S("a"), "sk": N(1), "amount": N("2.50"), "code": S("7"), "count": S("42\n")},
             {"pk": S("b"), "sk": N(2), "amount": N("3"), "code": S("seven"), "count": S("8")}]
    location = write_export(tmp_path, "e-lossy", [item(i) for i in items])
    exports = [export_entry("e-lossy", location, T1)]
    attributes = {"amount": "decimal(10,2)", "code": "string", "count": "string"}
    policies = {"amount": {"type": "bigint"}, "code": {"type": "int"}, "count": {"type": "decimal(10,2)"}}
    failed = ddb_load("Lossy", "ddb_lossy", exports, KEY, attributes, column_policies=json.dumps(policies))
    assert failed.status == "failed" and failed.error is not None and failed.error["class"] == "AttributeTypeMismatch"
    message = failed.error["message"]
    assert "'amount' has 1 value(s) that cannot become bigint" in message, message
    assert "'code' has 1 value(s) that cannot become int" in message, message
    assert "'count' has 1 value(s) that cannot become decimal(10,2)" in message, message
    nulled = ddb_load("Lossy", "ddb_lossy", exports, KEY, attributes, column_policies=json.dumps(
        {c: {**p, "onInvalid": "null"} for c, p in policies.items()}))
    assert nulled.status == "succeeded", nulled.error
    assert nulled.nulledValues == {"amount": 1, "code": 1, "count": 1}
    assert [(r["amount"], r["code"], r["count"]) for r in rows(spark, "ddb_lossy")] == [(None, 7, None), (3, None, "8.00")]
