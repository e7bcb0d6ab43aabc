"""The arguments of DynamoDB loads: checked before any Spark work, each rejection naming the fix."""
from __future__ import annotations

import json
from typing import Any

import pytest

from lakesync_glue.args import parse_job_args
from lakesync_glue.dynamodb_load import attribute_columns
from lakesync_glue.errors import InvalidArgument, NameCollision

T0, T1, T2 = "2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z", "2025-01-01T02:00:00Z"
FULL = [{"exportId": "e1", "type": "FULL", "to": T1, "location": "s3://b/p/e1", "itemCount": 3}]
WINDOWS = [
    {"exportId": "i1", "type": "INCREMENTAL", "from": T0, "to": T1, "location": "/x/i1"},
    {"exportId": "i2", "type": "INCREMENTAL", "from": T1, "to": T2, "location": "/x/i2"},
]


def options(**changes: Any) -> dict[str, str]:
    base: dict[str, Any] = {
        "source_format": "dynamodb", "source_database": "dynamodb", "source_schema": "dynamodb",
        "source_table": "Orders", "namespace": "shop", "lake_table": "orders", "action": "create",
        "cycle_id": "c", "run_token": "t", "result_path": "/tmp/r.json", "warehouse": "/tmp/w", "source": "shop-ddb",
        "export_id": "e1", "snapshot_time": T1, "dynamodb_exports": FULL,
        "dynamodb_key": [{"name": "pk", "type": "S"}, {"name": "sk", "type": "N"}],
        "dynamodb_attributes": {"total": "decimal(12,2)", "status": "string"},
    }
    base.update(changes)
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in base.items() if v is not None}


def rejected(**changes: Any) -> str:
    with pytest.raises(InvalidArgument) as caught:
        parse_job_args(options(**changes), "local")
    return caught.value.message


def test_a_full_load_parses_with_its_key_as_primary_key() -> None:
    args = parse_job_args(options(), "local")
    assert args.is_dynamodb and args.export_path == "" and args.primary_key == ("pk", "sk")
    d = args.dynamodb
    assert d is not None and d.full and d.key_names == ("pk", "sk")
    assert d.attributes == (("total", "decimal(12,2)"), ("status", "string"))
    assert d.exports[0].location == "s3://b/p/e1" and d.exports[0].item_count == 3


def test_incremental_windows_parse_oldest_first() -> None:
    args = parse_job_args(options(action="merge", dynamodb_exports=WINDOWS, export_id="i2", snapshot_time=T2,
                                  dynamodb_attributes="{}"), "local")
    assert args.dynamodb is not None and [e.export_id for e in args.dynamodb.exports] == ["i1", "i2"]
    assert args.dynamodb.attributes == ()


@pytest.mark.parametrize("changes, words", [
    ({"dynamodb_exports": None}, "missing argument(s): --dynamodb_exports"),
    ({"source_format": "mongo"}, "--source_format 'mongo'"),
    ({"dynamodb_exports": "[{"}, "--dynamodb_exports: is not valid JSON"),
    ({"dynamodb_exports": []}, "non-empty JSON array"),
    ({"dynamodb_exports": [{**FULL[0], "type": "PARTIAL"}]}, "use one of FULL, INCREMENTAL"),
    ({"dynamodb_exports": [{**FULL[0], "to": "2025-01-01T00:00:00"}]}, "no 'to' time with a zone"),
    ({"dynamodb_exports": [{**FULL[0], "location": "http://x/y"}]}, "unsupported scheme"),
    ({"action": "merge"}, "FULL export of dynamodb.Orders creates or replaces"),
    ({"dynamodb_exports": WINDOWS, "export_id": "i2", "snapshot_time": T2}, "pass --action merge"),
    ({"action": "merge", "dynamodb_exports": [WINDOWS[0], {**WINDOWS[1], "from": "2025-01-01T01:30:00Z"}],
      "export_id": "i2", "snapshot_time": T2}, "not where i1 ends"),
    ({"action": "merge", "dynamodb_exports": WINDOWS}, "not the last export"),
    ({"snapshot_time": T2}, "not the last export"),
    ({"dynamodb_key": [{"name": "pk", "type": "X"}]}, "use one of S, N, B"),
    ({"dynamodb_attributes": {"total": "money"}}, "attribute 'total' has type \"money\""),
    ({"dynamodb_attributes": {"pk": "bigint"}}, "a key of type S cannot be bigint"),
    ({"dynamodb_attributes": {"sk": "boolean"}}, "a key of type N cannot be boolean"),
    ({"primary_key": "id"}, "is not the key of dynamodb.Orders"),
    ({"column_policies": {"color": {"hash": True}}, "hash_key_env": "K"}, "neither a key nor a declared attribute"),
    ({"column_policies": {"pk": {"exclude": True}}}, "'pk'"),
    ({"column_policies": {"total": {"onInvalid": "clamp"}}}, "onInvalid clamp"),
    ({"column_policies": {"total": {"type": "date"}}}, "type date does not apply"),
    ({"cursor_column": "total"}, "does not apply to DynamoDB loads"),
    ({"extract": "direct"}, "does not apply to DynamoDB loads"),
    ({"export_path": "/x"}, "does not apply to DynamoDB loads"),
    ({"source_format": None, "export_path": "/x"}, "apply only to DynamoDB tables"),
])
def test_bad_arguments_are_rejected_with_the_fix(changes: dict[str, Any], words: str) -> None:
    assert words in rejected(**changes)


def test_an_excluded_attribute_need_not_be_declared() -> None:
    args = parse_job_args(options(column_policies={"email": {"exclude": True}}), "local")
    assert args.column_policies["email"].exclude


def test_a_key_attribute_named_with_a_comma_is_read_from_dynamodb_key() -> None:
    key = [{"name": "order,id", "type": "S"}, {"name": "line", "type": "N"}]
    args = parse_job_args(options(dynamodb_key=key), "local")  # no --primary_key: as lakesync passes it
    assert args.primary_key == ("order,id", "line")
    assert args.dynamodb is not None and args.dynamodb.key_names == ("order,id", "line")
    message = rejected(dynamodb_key=key, primary_key="order,id,line")
    assert "key attribute 'order,id' of dynamodb.Orders has one in its name; leave --primary_key out" in message


def test_a_key_attribute_named_like_the_other_attributes_column_loads_under_its_rename() -> None:
    # The rename is the key's: the column of the other attributes keeps its name.
    args = parse_job_args(options(dynamodb_key=[{"name": "_attributes", "type": "S"}], dynamodb_attributes="{}",
                                  column_policies={"_attributes": {"rename": "attrs"}}), "local")
    columns, _excluded, rest_name = attribute_columns(args)
    assert [(c.attribute, c.name) for c in columns] == [("_attributes", "attrs")]
    assert rest_name == "_attributes"


def test_attributes_with_one_lake_name_fail_naming_the_dynamodb_fix() -> None:
    args = parse_job_args(options(dynamodb_attributes={"PK": "string"}), "local")
    with pytest.raises(NameCollision) as caught:
        attribute_columns(args)
    message = caught.value.message
    assert "attributes 'pk' and 'PK' both become 'pk' once lowercased" in message
    assert "PostgreSQL" not in message and "rename: <lake name>" in message


@pytest.mark.parametrize("attribute", ["__row_id", "__ROW_FROM_SOURCE"])
def test_an_attribute_named_like_a_column_of_sparks_merge_fails_naming_the_dynamodb_fix(attribute: str) -> None:
    """A DynamoDB table is merged into by key: Spark's MERGE fails on a table column of such a name."""
    args = parse_job_args(options(dynamodb_attributes={attribute: "string"}), "local")
    with pytest.raises(NameCollision) as caught:
        attribute_columns(args)
    message = caught.value.message
    assert f"attribute {attribute!r} becomes {attribute.lower()!r}, a name Spark's MERGE uses" in message, message
    assert "PostgreSQL" not in message and "rename: <lake name>" in message
    renamed = parse_job_args(options(dynamodb_attributes={attribute: "string"},
                                     column_policies={attribute: {"rename": "row_ref"}}), "local")
    assert [c.name for c in attribute_columns(renamed)[0]][-1] == "row_ref"


@pytest.mark.parametrize("declared,type_", [("decimal(10,2)", "boolean"), ("binary", "string"), ("json", "bigint"),
                                            ("boolean", "int"), ("string", "boolean"), ("json", "string")])
def test_a_type_the_declared_type_cannot_be_cast_to_is_refused_before_any_read(declared: str, type_: str) -> None:
    message = rejected(dynamodb_attributes={"total": declared}, column_policies={"total": {"type": type_}})
    assert f"attribute 'total' of dynamodb.Orders is declared {declared}, and type {type_} cannot be cast from it" in message


def test_a_type_the_declared_type_casts_to_is_accepted() -> None:
    args = parse_job_args(options(dynamodb_attributes={"total": "decimal(10,2)"},
                                  column_policies={"total": {"type": "string"}}), "local")
    assert args.column_policies["total"].type == "string"
