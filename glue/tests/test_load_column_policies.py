"""Column policies on real loads: exclude, hash, rename, type, onInvalid on create, merge and added columns."""
from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import Loader
from exportkit import col
from lakesync_glue.pgtext import hmac_hex
from scenario import Versions, lake_rows

KEY_ENV = "LAKESYNC_TEST_HASH_KEY"
KEY = "correct horse battery staple"

PEOPLE = [col("id", "bigint"), col("Email", "text"), col("secret_score", "numeric(5,2)"), col("Notes", "text"),
          col("amount", "numeric"), col("day", "date"), col("qty", "integer")]
PEOPLE_V1 = [
    (1, "a@x.io", "NaN", "n1", "1.50", "2024-01-01", 42),
    (2, "b@x.io", "1.00", None, "NaN", "infinity", None),
    (3, None, None, "n3", "-Infinity", "-infinity", 7),
]
POLICIES = {"Email": {"hash": True}, "secret_score": {"exclude": True}, "Notes": {"rename": "remarks"},
            "amount": {"type": "double"}, "day": {"onInvalid": "null"}, "qty": {"hash": True}}

# How the query path hands non-finite floats to the runner's client (JSON has no NaN).
NAN = {"$float": "NaN"}
MINUS_INF = {"$float": "-Infinity"}


def h(text: str) -> str:
    return hmac_hex(KEY.encode(), text)


@pytest.fixture(autouse=True)
def hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> Versions:
    return Versions(tmp_path_factory.mktemp("policies"), "shop", "public", "people")


def load_people(load: Loader, export: str, action: str, policies: dict[str, Any] = POLICIES, **options: str) -> Any:
    return load(export, "shop.public.people", "pol_people", action=action, primary_key="id",
                column_policies=json.dumps(policies), hash_key_env=KEY_ENV, **options)


def test_policies_on_create_then_merge_with_a_column_added_later(load: Loader, spark: Any, versions: Versions) -> None:
    created = load_people(load, versions.export(PEOPLE, PEOPLE_V1), "create")
    assert created.status == "succeeded", created.error
    # The excluded column holds a NaN that fits no decimal(5,2): it is never read, so it never fails the load.
    assert [(f.name, f.dataType.simpleString()) for f in spark.table("lake.tests.pol_people").schema.fields] == [
        ("id", "bigint"), ("email", "string"), ("remarks", "string"), ("amount", "double"), ("day", "date"),
        ("qty", "string")]
    assert lake_rows(spark, "pol_people") == [
        {"id": 1, "email": h("a@x.io"), "remarks": "n1", "amount": 1.5, "day": "2024-01-01", "qty": h("42")},
        {"id": 2, "email": h("b@x.io"), "remarks": None, "amount": NAN, "day": None, "qty": None},
        {"id": 3, "email": None, "remarks": "n3", "amount": MINUS_INF, "day": None, "qty": h("7")},
    ]
    assert created.to_dict()["nulledValues"] == {"day": 2}
    assert "clampedValues" not in created.to_dict() and "warnings" not in created.to_dict()

    # v2: row 2's email changes, row 4 arrives, and two columns appear with their own policies.
    cols = PEOPLE + [col("phone", "text"), col("price", "numeric(8,2)"), col("tax_id", "text"), col("Zip", "text")]
    v2 = [r + (None, None, "T-1", None) for r in PEOPLE_V1 if r[0] != 2] + [
        (2, "c@x.io", "1.00", None, "NaN", "infinity", None, "+1 555", "NaN", "T-2", "75001"),
        (4, "a@x.io", None, None, None, None, 42, None, "2.50", None, None),
    ]
    policies = {**POLICIES, "phone": {"hash": True}, "price": {"type": "double"}, "tax_id": {"exclude": True},
                "Zip": {"rename": "postal_code"}}
    merged = load_people(load, versions.export(cols, v2), "merge", policies)
    assert merged.status == "succeeded", merged.error
    # Equal values hash equally across loads: rows 1 and 3 are unchanged, row 4's email hash is row 1's.
    assert (merged.action, merged.inserted, merged.updated, merged.deleted) == ("merge", 1, 1, 0)
    assert merged.schemaChanges == ["added column phone string", "added column price double",
                                    "added column postal_code string"]
    rows = {r["id"]: r for r in lake_rows(spark, "pol_people")}
    assert rows[2]["email"] == h("c@x.io") and rows[2]["phone"] == h("+1 555") and rows[2]["price"] == NAN
    assert rows[4]["email"] == rows[1]["email"] == h("a@x.io") and rows[4]["price"] == 2.5
    assert rows[2]["postal_code"] == "75001" and "tax_id" not in rows[2]
    assert merged.nulledValues == {"day": 2}


def test_hashes_join_across_tables_with_the_same_key(load: Loader, spark: Any, tmp_path: Any) -> None:
    contacts = Versions(tmp_path, "crm", "public", "contacts")
    export = contacts.export([col("email", "text"), col("score", "double precision"), col("blob", "bytea")],
                             [("a@x.io", 1e15, b"\x01\xab"), ("b@x.io", 0.5, None),
                              ("c@x.io", 35685061072609768.0, None)])
    result = load(export, "crm.public.contacts", "pol_contacts", action="replace", hash_key_env=KEY_ENV,
                  column_policies=json.dumps({"email": {"hash": True}, "score": {"hash": True}, "blob": {"hash": True}}))
    assert result.status == "succeeded", result.error
    rows = lake_rows(spark, "pol_contacts", order="email")
    assert sorted(rows, key=lambda r: r["email"]) == sorted([
        {"email": h("b@x.io"), "score": h("0.5"), "blob": None},
        {"email": h("a@x.io"), "score": h("1e+15"), "blob": h("\\x01ab")},
        # PostgreSQL prints 17 digits: the 16 that read back only as a tie lie on the rounding bound.
        {"email": h("c@x.io"), "score": h("3.5685061072609768e+16"), "blob": None},
    ], key=lambda r: r["email"])


def test_a_nan_fails_the_table_with_column_count_and_the_config_line(load: Loader, spark: Any,
                                                                    tmp_path: Any) -> None:
    prices = Versions(tmp_path, "shop", "public", "prices")
    export = prices.export([col("id", "bigint"), col("amount", "numeric")],
                           [(1, "1.50"), (2, "NaN"), (3, "Infinity")])
    failed = load(export, "shop.public.prices", "pol_prices", action="create", primary_key="id")
    assert failed.error is not None and failed.error["class"] == "CastError"
    message = failed.error["message"]
    assert "table shop.public.prices: column 'amount' (numeric) has 2 value(s) that cannot become decimal(38,18)" in message
    assert ("to load them set tables: { public.prices: { columns: { amount: { onInvalid: \"null\" } } } } "
            "or type: double") in message
    assert "'NaN'" not in message  # row values only with show_values
    assert not spark.catalog.tableExists("lake.tests.pol_prices")

    lossy = load(export, "shop.public.prices", "pol_prices", action="create", primary_key="id",
                 column_policies=json.dumps({"amount": {"type": "bigint"}}))
    assert lossy.error is not None and "column 'amount' (numeric) has 3 value(s) that cannot become bigint" in lossy.error["message"]
    clamp = load(export, "shop.public.prices", "pol_prices", action="create", primary_key="id",
                 column_policies=json.dumps({"amount": {"onInvalid": "clamp"}}))
    assert clamp.error is not None and clamp.error["class"] == "InvalidArgument"
    assert "onInvalid clamp applies only to date and timestamp columns" in clamp.error["message"]

    nulled = load(export, "shop.public.prices", "pol_prices", action="create", primary_key="id",
                  column_policies=json.dumps({"amount": {"onInvalid": "null"}}))
    assert nulled.status == "succeeded", nulled.error
    assert nulled.nulledValues == {"amount": 2}
    assert lake_rows(spark, "pol_prices") == [{"id": 1, "amount": "1.500000000000000000"},
                                          {"id": 2, "amount": None}, {"id": 3, "amount": None}]


def test_a_number_too_close_to_0_for_float_or_double_fails_instead_of_becoming_0(load: Loader, spark: Any,
                                                                                   tmp_path: Any) -> None:
    """PostgreSQL refuses 1e-50 as real ("out of range"); the job must not load it as 0. Zeros stay zeros."""
    tiny = Versions(tmp_path, "shop", "public", "tiny")
    columns = [col("id", "bigint"), col("f", "numeric"), col("d", "numeric")]
    policies = json.dumps({"f": {"type": "float"}, "d": {"type": "double"}})
    zeros = tiny.export(columns, [(1, "0", "0.000"), (2, "-0.0", "0e5"), (3, "1e-30", "1e-300")])
    loaded = load(zeros, "shop.public.tiny", "pol_tiny", action="create", primary_key="id", column_policies=policies)
    assert loaded.status == "succeeded", loaded.error
    assert [(r["f"] == 0, r["d"] == 0) for r in lake_rows(spark, "pol_tiny")] == [(True, True), (True, True), (False, False)]

    under = tiny.export(columns, [(1, "0." + "0" * 49 + "1", "1"), (2, "2", "0." + "0" * 399 + "1"), (3, "-1e-60", "1")])
    failed = load(under, "shop.public.tiny", "pol_tiny", action="merge", primary_key="id", column_policies=policies)
    assert failed.error is not None and failed.error["class"] == "CastError", failed.error
    assert "column 'f' (numeric) has 2 value(s) that cannot become float" in failed.error["message"]
    assert "column 'd' (numeric) has 1 value(s) that cannot become double" in failed.error["message"]
    assert [r["id"] for r in lake_rows(spark, "pol_tiny")] == [1, 2, 3], "the table keeps its rows"


def test_a_real_retyped_to_decimal_gets_the_value_postgresql_prints(load: Loader, spark: Any, tmp_path: Any) -> None:
    """0.1::real prints 0.1: decimal(20,10) must hold 0.1000000000, not the binary value's 0.1000000015.
    Doubles keep their (already right) decimal; a value the decimal cannot hold still fails."""
    floats = Versions(tmp_path, "shop", "public", "floats")
    columns = [col("id", "bigint"), col("r", "real"), col("d", "double precision"), col("big", "real")]
    policies = {"r": {"type": "decimal(20,10)"}, "d": {"type": "decimal(20,10)"}, "big": {"type": "decimal(38,2)"}}
    # As PostgreSQL 15 prints them: 3e10::real is 3.0000001e+10 (3e10 is the rounding bound, which it
    # never prints), 19781.0625::real 19781.062 (a tie, to even), 3302833920::real 3.302834e+09 (Java
    # 17's Float.toString gives 3.30283392E9).
    rows = [(1, 0.1, 0.1, 3e10), (2, 3.3, 3.3, -1.5e20), (3, 1e-5, 1e-5, None), (4, -0.0, 0.0, 16777216.0),
            (5, 19781.0625, 0.5, 3302833920.0)]
    loaded = load(floats.export(columns, rows), "shop.public.floats", "pol_floats", action="create", primary_key="id",
                  column_policies=json.dumps(policies))
    assert loaded.status == "succeeded", loaded.error
    assert [(r["r"], r["d"], r["big"]) for r in lake_rows(spark, "pol_floats")] == [
        ("0.1000000000", "0.1000000000", "30000001000.00"),
        ("3.3000000000", "3.3000000000", "-150000000000000000000.00"),
        ("0.0000100000", "0.0000100000", None),
        ("0.0000000000", "0.0000000000", "16777216.00"),
        ("19781.0620000000", "0.5000000000", "3302834000.00"),
    ]
    bad = [(1, 3e10, 1.0, None), (2, 1.2345678e-5, 1.0, None), (3, float("nan"), 1.0, None),
           (4, float("inf"), 1.0, None), (5, 0.5, 1.0, None)]
    failed = load(floats.export(columns, bad), "shop.public.floats", "pol_floats", action="merge", primary_key="id",
                  column_policies=json.dumps(policies))
    assert failed.error is not None and failed.error["class"] == "CastError", failed.error
    assert "column 'r' (real) has 4 value(s) that cannot become decimal(20,10)" in failed.error["message"]
    nulled = load(floats.export(columns, bad), "shop.public.floats", "pol_floats", action="merge", primary_key="id",
                  column_policies=json.dumps({**policies, "r": {"type": "decimal(20,10)", "onInvalid": "null"}}))
    assert nulled.status == "succeeded", nulled.error
    assert nulled.nulledValues == {"r": 4}
    assert [r["r"] for r in lake_rows(spark, "pol_floats")] == [None, None, None, None, "0.5000000000"]


# float4 values and the text PostgreSQL 15 prints for them: the rounding bound never printed (4.168901e+07
# reads back the same, as does 3.614988e+08), Ryu's step up at a power of two (2^-96), ties to even, extremes.
PRINTED_REALS = [
    (41689008.0, "4.1689008e+07"), (-361498816.0, "-3.6149882e+08"), (-102559376.0, "-1.02559376e+08"),
    (1.262177448353619e-29, "1.2621775e-29"), (1.5474250491067253e+26, "1.5474251e+26"),
    (-1.4527379845362483e+18, "-1.452738e+18"), (19781.0625, "19781.062"), (1.401298464324817e-45, "1e-45"),
    (3.4028234663852886e+38, "3.4028235e+38"), (1.1754943508222875e-38, "1.1754944e-38"), (0.1, "0.1"),
]


def test_float_text_is_the_text_postgresql_prints(spark: Any) -> None:
    from pyspark.sql.types import FloatType, StructField, StructType

    from lakesync_glue.pgfloat import float_text

    values = [(v,) for v, _ in PRINTED_REALS] + [(float("nan"),), (float("-inf"),), (None,)]
    frame = spark.createDataFrame(values, StructType([StructField("v", FloatType())]))
    got = [r[0] for r in frame.selectExpr(f"CAST({float_text('`v`')} AS DOUBLE)").collect()]
    assert got == [float(text) for _, text in PRINTED_REALS] + [None, None, None]


def test_infinite_dates_clamp_by_default_and_fail_on_request(load: Loader, spark: Any, tmp_path: Any) -> None:
    events = Versions(tmp_path, "shop", "public", "events")
    export = events.export([col("id", "bigint"), col("day", "date"), col("at", "timestamp")],
                           [(1, "infinity", "-infinity"), (2, "2024-01-01", "2024-01-01 10:00:00")])
    failed = load(export, "shop.public.events", "pol_events", action="create", primary_key="id",
                  column_policies=json.dumps({"day": {"onInvalid": "fail"}}))
    assert failed.error is not None and failed.error["class"] == "CastError"
    assert "column 'day' (date) has 1 value(s) that cannot become date" in failed.error["message"]
    assert "onInvalid: clamp" in failed.error["message"]
    clamped = load(export, "shop.public.events", "pol_events", action="create", primary_key="id")
    assert clamped.status == "succeeded", clamped.error
    assert clamped.clampedValues == {"day": 1, "at": 1}
    assert lake_rows(spark, "pol_events")[0] == {"id": 1, "day": "9999-12-31", "at": "0001-01-01T00:00:00.000000"}


def test_bad_policy_targets_and_key_sources_fail_before_any_work(load: Loader, spark: Any, tmp_path: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    items = Versions(tmp_path, "shop", "public", "items")
    export = items.export([col("id", "bigint"), col("Email", "text")], [(1, "a@x.io")])
    missing = load(export, "shop.public.items", "pol_items", action="create",
                   column_policies=json.dumps({"email": {"exclude": True}}))
    assert missing.error is not None and missing.error["class"] == "InvalidArgument"
    assert "has no column(s) 'email' ('email' is spelled 'Email' in the export); its columns are: id, Email" in missing.error["message"]
    monkeypatch.delenv(KEY_ENV)
    unset = load(export, "shop.public.items", "pol_items", action="create", hash_key_env=KEY_ENV,
                 column_policies=json.dumps({"Email": {"hash": True}}))
    assert unset.error is not None and unset.error["class"] == "InvalidArgument"
    assert f"--hash_key_env '{KEY_ENV}': the variable is not set or empty" in unset.error["message"]
    assert not spark.catalog.tableExists("lake.tests.pol_items")


def test_the_key_can_come_from_secrets_manager(load: Loader, spark: Any, tmp_path: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws

    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "eu-west-1")):
        monkeypatch.setenv(name, value)
    users = Versions(tmp_path, "shop", "public", "users")
    export = users.export([col("id", "bigint"), col("email", "text")], [(1, "a@x.io")])
    policies = json.dumps({"email": {"hash": True}})
    with mock_aws():
        arn = boto3.client("secretsmanager").create_secret(Name="lakesync/hash", SecretString="s3cret")["ARN"]
        found = load(export, "shop.public.users", "pol_users", action="create", hash_key_secret=arn,
                     column_policies=policies)
        gone = load(export, "shop.public.users", "pol_users_gone", action="create", hash_key_secret="lakesync/none",
                    column_policies=policies)
    assert found.status == "succeeded", found.error
    assert lake_rows(spark, "pol_users")[0]["email"] == hmac_hex(b"s3cret", "a@x.io")
    assert "s3cret" not in json.dumps(found.to_dict())
    assert gone.error is not None and gone.error["class"] == "InvalidArgument"
    assert "GetSecretValue failed with ResourceNotFoundException" in gone.error["message"]


@pytest.mark.parametrize(("policy", "expected"), [
    ({"exclude": True}, {"id": 1, "note": "lower"}),
    ({"rename": "note_upper"}, {"id": 1, "note": "lower", "note_upper": "upper"}),
])
def test_columns_equal_once_lowercased_load_once_a_policy_parts_them(load: Loader, tmp_path: Any, spark: Any,
                                                                     policy: dict[str, Any], expected: dict[str, Any]) -> None:
    """"Note" and "NOTE" are two PostgreSQL columns: with one excluded or renamed (the fix the name collision
    suggests) the export's files are read by their exact names."""
    versions = Versions(tmp_path, "shop", "public", "cased")
    cols = [col("id", "bigint"), col("Note", "text"), col("NOTE", "text")]
    result = load(versions.export(cols, [(1, "lower", "upper")]), versions.target, "cased", action="merge",
                  primary_key="id", column_policies=json.dumps({"NOTE": policy}))
    assert result.status == "succeeded", result.error
    assert lake_rows(spark, "cased") == [expected]
    spark.sql("DROP TABLE lake.tests.cased")


@pytest.mark.parametrize("policy", [{"exclude": True}, {"hash": True}, {"onInvalid": "null"}])
def test_a_policy_on_the_case_twin_of_a_key_column_applies_to_the_twin(load: Loader, tmp_path: Any, spark: Any,
                                                                      policy: dict[str, Any],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """"id" (the key) and "ID" are two PostgreSQL columns: a policy on "ID" is no policy on the key."""
    monkeypatch.setenv("LAKESYNC_TEST_TWIN_KEY", "k")
    versions = Versions(tmp_path, "shop", "public", "twins")
    cols = [col("id", "bigint"), col("ID", "text")]
    options = {"hash_key_env": "LAKESYNC_TEST_TWIN_KEY"} if policy.get("hash") else {}
    twin = {"ID": policy if policy.get("exclude") else {**policy, "rename": "id_text"}}
    result = load(versions.export(cols, [(1, "a"), (2, "b")]), versions.target, "twins", action="merge",
                  primary_key="id", column_policies=json.dumps(twin), **options)
    assert result.status == "succeeded", result.error
    assert [r["id"] for r in lake_rows(spark, "twins")] == [1, 2]
    spark.sql("DROP TABLE lake.tests.twins")


@pytest.mark.parametrize("policy, what", [({"exclude": True}, "excluded"), ({"hash": True}, "hashed")])
def test_a_key_named_by_its_lake_name_is_still_never_excluded_or_hashed(load: Loader, tmp_path: Any, spark: Any,
                                                                        policy: dict[str, Any], what: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKESYNC_TEST_TWIN_KEY", "k")
    versions = Versions(tmp_path, "shop", "public", "upper_key")
    result = load(versions.export([col("ID", "bigint"), col("name", "text")], [(1, "a")]), versions.target,
                  "upper_key", action="merge", primary_key="id", column_policies=json.dumps({"ID": policy}),
                  hash_key_env="LAKESYNC_TEST_TWIN_KEY")
    assert result.error is not None and result.error["class"] == "InvalidArgument", result.error
    assert "column 'ID': is a primary key column" in result.error["message"], result.error
    assert not spark.catalog.tableExists("lake.tests.upper_key")


def test_a_column_excluded_after_it_was_loaded_is_reported_with_how_to_remove_its_values(
        load: Loader, tmp_path: Any, spark: Any) -> None:
    """The exclude keeps new values out; the values loaded before stay in the lake table until removed by hand."""
    versions = Versions(tmp_path, "shop", "public", "late_exclude")
    cols = [col("id", "bigint"), col("SSN", "text"), col("name", "text")]
    first = load(versions.export(cols, [(1, "123-45-6789", "a")]), versions.target, "late_exclude", primary_key="id")
    assert first.status == "succeeded", first.error
    excluded = json.dumps({"SSN": {"exclude": True}})
    second = load(versions.export(cols, [(1, "123-45-6789", "b")]), versions.target, "late_exclude", primary_key="id",
                  column_policies=excluded)
    assert second.status == "succeeded", second.error
    assert second.droppedColumns == ["ssn"]
    assert any("column 'SSN' is excluded, but lake table tests.late_exclude still holds its values loaded before" in w
               and "ALTER TABLE `lake`.`tests`.`late_exclude` DROP COLUMN `ssn`" in w for w in second.warnings), second.warnings
    spark.sql("ALTER TABLE lake.tests.late_exclude DROP COLUMN ssn").collect()
    third = load(versions.export(cols, [(1, "123-45-6789", "b")]), versions.target, "late_exclude", primary_key="id",
                 column_policies=excluded)
    assert (third.status, third.committed, third.warnings) == ("succeeded", False, []), third


@pytest.mark.parametrize("rebuild", [False, True])
def test_a_column_excluded_from_a_replaced_table_is_reported_as_emptied_not_as_still_held(
        load: Loader, tmp_path: Any, spark: Any, rebuild: bool) -> None:
    """A replace (or rebuild) rewrites every row: the excluded column is left NULL in all of them, and only earlier
    snapshots keep the values loaded before the exclude; the warning says so, not that the table still holds them."""
    table = f"late_exclude_replace_{int(rebuild)}"
    versions = Versions(tmp_path, "shop", "public", table)
    cols = [col("id", "bigint"), col("SSN", "text"), col("name", "text")]
    first = load(versions.export(cols, [(1, "123-45-6789", "a")]), versions.target, table, action="replace")
    assert first.status == "succeeded", first.error
    options = {"rebuild": "true"} if rebuild else {}
    second = load(versions.export(cols, [(1, "123-45-6789", "a"), (2, "987-65-4321", "b")]), versions.target, table,
                  action="replace", column_policies=json.dumps({"SSN": {"exclude": True}}), **options)
    assert second.status == "succeeded", second.error
    assert lake_rows(spark, table) == [{"id": 1, "ssn": None, "name": "a"}, {"id": 2, "ssn": None, "name": "b"}]
    assert not any("still holds its values" in w for w in second.warnings), second.warnings
    assert any(f"column 'SSN' is excluded: this load rewrites every row of lake table tests.{table} and leaves "
               "the column NULL in all of them" in w and "earlier snapshots" in w for w in second.warnings), second.warnings
    spark.sql(f"DROP TABLE lake.tests.{table}").collect()
