"""Column policies, hash key sources, array literals and float text: pure checks, no Spark."""
from __future__ import annotations

import json
from typing import Any

import pytest

from lakesync_glue.args import parse_job_args
from lakesync_glue.errors import InvalidArgument
from lakesync_glue.pgarrays import delimiter, element_type, parse_array
from lakesync_glue.pgtext import hmac_hex, pg_float_text
from lakesync_glue.policies import ColumnPolicy, check_policy_columns, parse_column_policies

BASE = {
    "export_path": "/tmp/e", "source_database": "shop", "source_schema": "public", "source_table": "users",
    "namespace": "shop", "lake_table": "users", "action": "merge", "primary_key": "id", "cycle_id": "c",
    "run_token": "t", "result_path": "/tmp/r.json", "source": "shop", "export_id": "e",
    "snapshot_time": "2024-05-01T10:00:00Z", "warehouse": "/tmp/w",
}


def parse(**options: str) -> Any:
    return parse_job_args({**BASE, **options}, "local")


def rejected(**options: str) -> str:
    with pytest.raises(InvalidArgument) as info:
        parse(**options)
    return info.value.message


def test_policies_parse_into_the_job_args() -> None:
    policies = {"Email": {"hash": True}, "ssn": {"exclude": True}, "Notes": {"rename": "Remarks"},
                "amount": {"type": "Decimal(12, 2)", "onInvalid": "null"}, "day": {"onInvalid": "clamp"}}
    args = parse(column_policies=json.dumps(policies), hash_key_env="LAKESYNC_HASH_KEY", rebuild="true")
    assert args.column_policies == {
        "Email": ColumnPolicy("Email", hash=True), "ssn": ColumnPolicy("ssn", exclude=True),
        "Notes": ColumnPolicy("Notes", rename="remarks"),
        "amount": ColumnPolicy("amount", type="decimal(12,2)", on_invalid="null"),
        "day": ColumnPolicy("day", on_invalid="clamp"),
    }
    assert (args.hash_key_env, args.hash_key_secret, args.rebuild) == ("LAKESYNC_HASH_KEY", None, True)
    assert parse().column_policies == {} and parse().rebuild is False


@pytest.mark.parametrize("policies, expected", [
    ('{"a": {"hide": true}}', "column 'a': unknown key(s) 'hide'; use only exclude, hash, rename, type, onInvalid"),
    ('{"a": {"type": "varchar"}}', "column 'a': type \"varchar\" is not a lake type; use decimal(p,s)"),
    ('{"a": {"type": "decimal(40,2)"}}', "is not a lake type"),
    ('{"a": {"onInvalid": "skip"}}', "onInvalid \"skip\" is not a choice; use one of fail, null, clamp"),
    ('{"a": {"onInvalid": "clamp", "type": "double"}}', "clamp applies only to date and timestamp columns"),
    ('{"a": {"exclude": true, "rename": "b"}}', "exclude drops the column, so rename cannot apply"),
    ('{"a": {"hash": "yes"}}', "hash must be true"),
    ('{"a": {"hash": true, "type": "bigint"}}', "hash makes a text column"),
    ('{"a": {"rename": ""}}', "rename must be a column name"),
    ('["a"]', "must be a JSON object keyed by column"),
    ('{"a": ', "--column_policies is not valid JSON"),
    ('{"id": {"exclude": true}}', "column 'id': is a primary key column and cannot be excluded"),
    ('{"id": {"hash": true}}', "column 'id': is a primary key column: lakesync does not hash key columns"),
    ('{"id": {"onInvalid": "null"}}', "column 'id': is a primary key column and cannot be set NULL"),
])
def test_bad_policies_are_rejected_naming_the_column_and_the_fix(policies: str, expected: str) -> None:
    assert expected in rejected(column_policies=policies, hash_key_env="K")


def test_cursor_columns_cannot_be_excluded_or_hashed() -> None:
    for policy in ({"exclude": True}, {"hash": True}):
        message = rejected(column_policies=json.dumps({"Updated": policy}), action="incremental",
                           cursor_column="Updated", hash_key_env="K")
        assert "column 'Updated': is the cursor column" in message


def test_hash_needs_one_key_source_and_never_the_key_itself() -> None:
    assert "no key source is given" in rejected(column_policies='{"email": {"hash": true}}')
    assert "pass only one key source" in rejected(hash_key_env="K", hash_key_secret="lakesync/hash")
    assert "is not an environment variable name" in rejected(hash_key_env="not a name!")
    assert "is not a Secrets Manager secret ARN or name" in rejected(hash_key_secret="a secret with spaces")
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:lakesync/hash-AbCdEf"
    assert parse(column_policies='{"email": {"hash": true}}', hash_key_secret=arn).hash_key_secret == arn


def test_a_policy_for_a_column_the_export_lacks_lists_the_columns() -> None:
    with pytest.raises(InvalidArgument) as info:
        check_policy_columns({"Email": ColumnPolicy("Email"), "zip": ColumnPolicy("zip")},
                             ["id", "email", "name"], "shop.public.users")
    assert info.value.message == (
        "--column_policies: table shop.public.users has no column(s) 'Email', 'zip' ('Email' is spelled 'email' in "
        "the export); its columns are: id, email, name. Name columns exactly as the export lists them"
    )


def test_key_rules_apply_to_exact_names_before_the_columns_are_known() -> None:
    """"Id" may be the key's case twin, another column: the key given by its lake name is checked at load time."""
    assert parse_column_policies('{"Email": {"hash": true}}', ["id"], None)["Email"].hash
    assert parse_column_policies('{"Id": {"hash": true}}', ["id"], None)["Id"].hash
    with pytest.raises(InvalidArgument):
        parse_column_policies('{"id": {"hash": true}}', ["id"], None)


@pytest.mark.parametrize("text, elements", [
    ("{}", []),
    ("{1,2,NULL}", ["1", "2", None]),
    ('{a,"b c","NULL",null,""}', ["a", "b c", "NULL", None, ""]),
    ('{"a,b","say \\"hi\\"","back\\\\slash","{x}"}', ["a,b", 'say "hi"', "back\\slash", "{x}"]),
    ('{"2024-01-01 10:00:00+00",infinity}', ["2024-01-01 10:00:00+00", "infinity"]),
    ("{{1,2},{3,4}}", None),
    ("[0:1]={1,2}", None),
    ("{a,,b}", None),
    ('{"unterminated}', None),
    ("not an array", None),
    (None, None),
])
def test_postgresql_array_literals(text: str | None, elements: list[str | None] | None) -> None:
    assert parse_array(text) == elements


@pytest.mark.parametrize("original, udt, text, elements", [
    ("_box", None, "{(1,1),(0,0);(2,2),(1,1)}", ["(1,1),(0,0)", "(2,2),(1,1)"]),
    ("box[]", None, '{(1,1),(0,0);NULL;"x;y"}', ["(1,1),(0,0)", None, "x;y"]),
    ("ARRAY", "_box", "{(3,3),(2,2)}", ["(3,3),(2,2)"]),
    ("_point", None, '{"(1,2)","(3,4)"}', ["(1,2)", "(3,4)"]),
    ("ARRAY", None, "{a;b,c}", ["a;b", "c"]),
])
def test_box_arrays_are_delimited_by_semicolons(original: str, udt: str | None, text: str,
                                                elements: list[str | None]) -> None:
    """box is the one built-in type whose typdelim is ';' (its elements hold commas, unquoted)."""
    assert parse_array(text, delimiter(element_type(original, udt))) == elements


@pytest.mark.parametrize("original, udt, element", [
    ("_int4", None, "int4"), ("integer[]", None, "integer"), ("character varying[]", None, "character varying"),
    ("int4[][]", None, "int4"), ("ARRAY", None, None), ("ARRAY", "_timestamptz", "timestamptz"),
])
def test_the_element_type_comes_from_the_mapping(original: str, udt: str | None, element: str | None) -> None:
    assert element_type(original, udt) == element


@pytest.mark.parametrize("value, digits, text", [
    (1.5, 15, "1.5"), (100.0, 15, "100"), (1e15, 15, "1e+15"), (123456789012345.0, 15, "123456789012345"),
    (1e-05, 15, "1e-05"), (0.0001, 15, "0.0001"), (-2.25, 15, "-2.25"), (float("nan"), 15, "NaN"),
    (float("-inf"), 15, "-Infinity"), (-0.0, 15, "-0"), (1e6, 6, "1e+06"), (0.10000000149011612, 6, "0.1"),
    # Shortest digits reading back as the float only as a tie (round half to even): PostgreSQL's
    # Ryu excludes the bounds and prints one digit more. Texts from PostgreSQL 17's float8out/float4out.
    (35685061072609768.0, 15, "3.5685061072609768e+16"), (93627988070064992.0, 15, "9.362798807006499e+16"),
    (-54041992.0, 6, "-5.4041992e+07"), (41689008.0, 6, "4.1689008e+07"), (-108160336.0, 6, "-1.08160336e+08"),
    (5e-324, 15, "5e-324"), (1.7976931348623157e308, 15, "1.7976931348623157e+308"),
    (1.401298464324817e-45, 6, "1e-45"), (3.4028234663852886e38, 6, "3.4028235e+38"), (1.1754943508222875e-38, 6, "1.1754944e-38"),
])
def test_floats_hash_from_postgresql_text(value: float, digits: int, text: str) -> None:
    assert pg_float_text(value, digits) == text


def test_hmac_is_lowercase_hex_sha256() -> None:
    # RFC 4231 test case 2
    assert hmac_hex(b"Jefe", "what do ya want for nothing?") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")


@pytest.mark.parametrize("code, error_class, retryable", [
    ("AccessDeniedException", "InvalidArgument", False),
    ("DecryptionFailure", "InvalidArgument", False),
    ("InternalServiceError", "InternalError", True),
    ("ThrottlingException", "InternalError", True),
])
def test_secrets_manager_failures_say_whether_a_retry_helps(monkeypatch: pytest.MonkeyPatch, code: str,
                                                            error_class: str, retryable: bool) -> None:
    # moto grants every call and never throttles: the failure answers come from botocore's Stubber.
    import boto3
    from botocore.stub import Stubber

    from lakesync_glue.errors import LoadError
    from lakesync_glue.hashing import resolve_hash_key

    client = boto3.client("secretsmanager", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.add_client_error("get_secret_value", service_error_code=code, expected_params={"SecretId": "lakesync/hash"})
    stubber.activate()
    monkeypatch.setattr(boto3, "client", lambda *a, **k: client)
    args = parse(column_policies='{"email": {"hash": true}}', hash_key_secret="lakesync/hash")
    with pytest.raises(LoadError) as info:
        resolve_hash_key(args)
    assert (info.value.error_class, info.value.retryable) == (error_class, retryable)
    assert code in info.value.message and "lakesync/hash" in info.value.message


def test_a_binary_secret_cannot_be_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from botocore.stub import Stubber

    from lakesync_glue.hashing import resolve_hash_key

    client = boto3.client("secretsmanager", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.add_response("get_secret_value", {"ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:k-AbCdEf",
                                              "Name": "k", "SecretBinary": b"\x00"})
    stubber.activate()
    monkeypatch.setattr(boto3, "client", lambda *a, **k: client)
    with pytest.raises(InvalidArgument) as info:
        resolve_hash_key(parse(column_policies='{"email": {"hash": true}}', hash_key_secret="k"))
    assert "has no SecretString" in info.value.message


def test_a_key_or_cursor_named_by_the_lake_name_of_an_excluded_column_says_so() -> None:
    from lakesync_glue.policies import roles_of_excluded

    policies = parse_column_policies('{"Updated": {"exclude": true}, "ID": {"exclude": true}}', ["id"], "updated")
    with pytest.raises(InvalidArgument, match="column 'Updated': is the cursor column and cannot be excluded"):
        roles_of_excluded(policies, [], "updated")
    with pytest.raises(InvalidArgument, match="column 'ID': is a primary key column and cannot be excluded"):
        roles_of_excluded(policies, ["id"], None)
    roles_of_excluded(policies, ["code"], "changed")


def test_a_column_named_twice_is_refused_not_collapsed_to_its_last_policy() -> None:
    """JSON readers keep the last of two equal keys: the exclude of a column given twice would be dropped in silence."""
    message = rejected(column_policies='{"email": {"exclude": true}, "name": {}, "email": {"rename": "contact"}}')
    assert "'email' is given twice" in message and "give each column one policy" in message
    nested = rejected(column_policies='{"email": {"hash": true, "hash": true}}', hash_key_env="K")
    assert "'hash' is given twice" in nested
