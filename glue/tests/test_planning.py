"""Pure planning: names, type casts, schema evolution and SQL text (no Spark)."""
from __future__ import annotations

import pytest

from lakesync_glue import sqltext
from lakesync_glue.errors import NameCollision, SchemaConflict
from lakesync_glue.names import lake_column_names, qualified, quote, s3_tables_name_problem, sql_string
from lakesync_glue.pgtypes import ColumnMapping, exported_spark_type, fallback_numeric_type, pg_kind, plan_column
from lakesync_glue.schema import compatibility, plan_schema


def test_lowercase_names_and_collisions_name_both_columns() -> None:
    assert lake_column_names(["ID", "Unit Price", "ünïcode", "Größe"], "db.s.t") == ["id", "unit price", "ünïcode", "größe"]
    with pytest.raises(NameCollision) as info:
        lake_column_names(["id", "Name", "name"], "shop.public.people")
    message = info.value.message
    assert "'Name'" in message and "'name'" in message and "shop.public.people" in message


def test_names_with_the_reserved_prefix_are_refused_as_source_or_lake_names() -> None:
    """The job's own columns start with __lakesync_ (any case: lake names are lowercased)."""
    for source, renames in ((["id", "__LakeSync_Op"], {}), (["id", "note"], {"note": "__lakesync_list_1"})):
        with pytest.raises(NameCollision) as info:
            lake_column_names(source, "shop.public.people", renames)
        message = info.value.message
        assert message.startswith(f"table shop.public.people: column {source[1]!r} "), message
        assert "reserved prefix '__lakesync_'" in message and "exclude" in message, message
    assert lake_column_names(["_lakesync_x", "x__lakesync_"], "db.s.t") == ["_lakesync_x", "x__lakesync_"]


def test_the_job_names_its_own_columns_with_the_reserved_prefix() -> None:
    from lakesync_glue import changes, columns, create_path, direct, pgfloat, pgtypes, source
    from lakesync_glue.names import RESERVED_PREFIX

    own = [columns.PARSED_PREFIX, pgtypes.ELEMENT_VAR, create_path._VALUE_PREFIX, sqltext.OP_COLUMN, source.BAD_PREFIX,
           source.NULLED_PREFIX, source.CLAMPED_PREFIX, direct.PART, changes.LAKE_PREFIX, changes.S_OP, changes.S_SRC,
           changes.S_LAKE, changes.S_NULLKEY, changes.stage_key(0), pgfloat._TEXT.strip("`")]
    # The DynamoDB load's: the lake names of its attributes sit beside them (an attribute may be named `__del`).
    from lakesync_glue import dynamodb, dynamodb_load
    from lakesync_glue.dynamodb_json import AttributeColumn

    column = AttributeColumn(0, "a", "a", "string", False)
    own += [dynamodb.WINDOW, dynamodb.WRITTEN, dynamodb.DELETED, dynamodb.BROKEN, dynamodb.REST, dynamodb.IMAGE,
            dynamodb.KEYS, column.json_col, column.tag_col, column.text_col, column.hash_col, dynamodb_load._HELD,
            dynamodb_load._lake_col(0)]
    assert [n for n in own if not n.startswith(RESERVED_PREFIX)] == []


def test_quoting_survives_backticks_quotes_and_dots() -> None:
    assert quote("we`ird") == "`we``ird`"
    assert quote('a "b".c') == '`a "b".c`'
    assert qualified(["lake", "shop", "order"]) == "`lake`.`shop`.`order`"
    assert sql_string("it's \\ here") == "'it\\'s \\\\ here'"


def test_s3_tables_name_rules() -> None:
    assert s3_tables_name_problem("orders_2024", "table") is None
    assert s3_tables_name_problem("9lives", "table") is None
    assert s3_tables_name_problem("Orders", "table")
    assert s3_tables_name_problem("aws_data", "namespace")
    assert s3_tables_name_problem("aws_data", "table") is None


@pytest.mark.parametrize(
    "original, kind",
    [
        ("integer", "int32"), ("int4", "int32"), ("smallint", "int16"), ("bigint", "int64"),
        ("numeric", "numeric"), ("numeric(12,2)", "numeric"), ("decimal", "numeric"), ("money", "money"),
        ("timestamp without time zone", "timestamp"), ("timestamp(3) with time zone", "timestamptz"),
        ("time without time zone", "time"), ("time with time zone", "timetz"), ("interval day to second", "interval"),
        ("jsonb", "json"), ("uuid", "uuid"), ("ARRAY", "array"), ("integer[]", "array"), ("_int4", "array"),
        ("USER-DEFINED", "user-defined"), ("character varying", "text"), ("inet", "text"), ("bytea", "bytes"),
        ("double precision", "float64"), ("real", "float32"), ("boolean", "bool"), ("date", "date"),
    ],
)
def test_pg_kinds(original: str, kind: str) -> None:
    assert pg_kind(original)[0] == kind


def mapping(name: str, original: str, exported: str = "binary (UTF8)", precision: int | None = None,
            scale: int | None = None) -> ColumnMapping:
    return ColumnMapping(name, original, exported, num_precision=precision, num_scale=scale)


def test_lake_types_of_each_kind() -> None:
    cases = [
        (mapping("a", "bigint", "int64", 64), "bigint", "bigint"),
        (mapping("a", "smallint", "int32", 16), "int", "int"),
        (mapping("a", "real", "float", 24), "float", "float"),
        (mapping("a", "bytea", "binary"), "binary", "binary"),
        (mapping("a", "numeric", precision=12, scale=2), "string", "decimal(12,2)"),
        (mapping("a", "numeric(7,3)"), "string", "decimal(7,3)"),
        (mapping("a", "numeric(2,5)"), "string", "decimal(5,5)"),
        (mapping("a", "numeric(5,-2)"), "string", "decimal(7,0)"),
        (mapping("a", "numeric"), "string", "decimal(38,18)"),
        (mapping("a", "numeric", precision=0), "string", "decimal(38,18)"),
        (mapping("a", "numeric", precision=60, scale=4), "string", "decimal(38,4)"),
        (mapping("a", "money"), "string", "decimal(19,2)"),
        (mapping("a", "date"), "string", "date"),
        (mapping("a", "timestamp without time zone"), "string", "timestamp_ntz"),
        (mapping("a", "timestamp with time zone"), "string", "timestamp"),
        (mapping("a", "time without time zone"), "string", "string"),
        (mapping("a", "interval"), "string", "string"),
        (mapping("a", "jsonb"), "string", "string"),
        (mapping("a", "uuid"), "string", "string"),
        (mapping("a", "ARRAY"), "string", "string"),
        (mapping("a", "USER-DEFINED"), "string", "string"),
    ]
    for m, raw, lake_type in cases:
        assert plan_column(m, "a", raw).lake_type == lake_type, m


def test_numeric_without_scale_is_left_open() -> None:
    plan = plan_column(mapping("Amount", "numeric", precision=12), "amount", "string")
    assert plan.scale_unknown and plan.precision == 12
    assert fallback_numeric_type(5) == (10, 5)
    assert fallback_numeric_type(30) == (38, 8)


def test_numeric_cast_is_exact_or_flagged() -> None:
    plan = plan_column(mapping("Amount", "numeric", precision=6, scale=2), "amount", "string")
    assert plan.expr == "try_cast(`Amount` AS decimal(6,2))"
    assert plan.bad is not None
    # the fraction digit limit; a value with too many integer digits casts to NULL (decided on values in
    # test_create_path.test_the_numeric_check_decides_exactly_as_counting_digits_by_regular_expressions)
    assert "> 2" in plan.bad and "decimal(6,2)) IS NULL" in plan.bad


def test_text_kinds_pass_through_without_checks() -> None:
    plan = plan_column(mapping("Doc", "jsonb"), "doc", "string")
    assert plan.expr == "`Doc`" and plan.bad is None


def test_exported_types_for_empty_exports() -> None:
    assert [exported_spark_type(t) for t in ("int32", "int64", "double", "float", "boolean", "binary", "binary (UTF8)")] == [
        "int", "bigint", "double", "float", "boolean", "binary", "string"]


@pytest.mark.parametrize(
    "source, lake, verdict",
    [
        ("int", "int", "same"), ("int", "bigint", "fits"), ("bigint", "int", "widen"), ("double", "float", "widen"),
        ("decimal(8,2)", "decimal(10,2)", "fits"), ("decimal(12,2)", "decimal(10,2)", "widen"),
        ("decimal(8,2)", "decimal(12,4)", "fits"), ("decimal(8,3)", "decimal(10,2)", "conflict"),
        ("string", "int", "conflict"), ("timestamp", "timestamp_ntz", "conflict"), ("bigint", "decimal(20,0)", "fits"),
    ],
)
def test_type_compatibility(source: str, lake: str, verdict: str) -> None:
    assert compatibility(source, lake)[0] == verdict


def test_schema_plan_adds_widens_and_keeps_dropped_columns() -> None:
    plan = plan_schema(
        source=[("id", "bigint"), ("qty", "bigint"), ("price", "decimal(8,2)"), ("color", "string")],
        lake=[("id", "bigint"), ("qty", "int"), ("legacy", "string"), ("price", "decimal(10,2)")],
        table="shop.public.items",
        lake_table="shop.items",
    )
    assert plan.add_columns == [("color", "string")]
    assert plan.widen_columns == [("qty", "int", "bigint")]
    assert plan.dropped_columns == ["legacy"]
    assert plan.write_types == {"id": "bigint", "qty": "bigint", "price": "decimal(10,2)", "color": "string"}
    assert plan.table_columns == [("id", "bigint"), ("qty", "bigint"), ("legacy", "string"),
                                  ("price", "decimal(10,2)"), ("color", "string")]
    assert plan.changes == ["added column color string", "widened column qty from int to bigint"]


def test_schema_conflict_is_explained() -> None:
    with pytest.raises(SchemaConflict) as info:
        plan_schema([("id", "bigint"), ("name", "int")], [("id", "bigint"), ("name", "string")],
                    "shop.public.items", "shop.items", {"name": "integer"}, "lakesync rerun shop --rebuild public.items")
    message = info.value.message
    assert "'name' is string in the lake but int (integer) in the export" in message
    assert "shop.public.items" in message and "(lakesync rerun shop --rebuild public.items)" in message
    assert "new lake table (the table's lakeName)" in message
    with pytest.raises(SchemaConflict) as no_rebuild:  # a direct load cannot be rebuilt
        plan_schema([("name", "int")], [("name", "string")], "shop.public.items", "shop.items")
    assert "rebuild" not in no_rebuild.value.message and "lakeName" in no_rebuild.value.message


def test_merge_sql_touches_only_the_change_set() -> None:
    sql = sqltext.merge_changes(
        "`lake`.`shop`.`order`", "changes_1", ["id"], ["unit price", "we`ird"],
        [("id", "bigint"), ("unit price", "decimal(8,2)"), ("legacy", "string"), ("we`ird", "string")],
        ["id", "unit price", "we`ird"],
    )
    assert sql == (
        "MERGE INTO `lake`.`shop`.`order` t USING `changes_1` c ON t.`id` = c.`id` "
        "WHEN MATCHED AND c.`__lakesync_op` = 'D' THEN DELETE "
        "WHEN MATCHED AND c.`__lakesync_op` = 'U' THEN UPDATE SET t.`unit price` = c.`unit price`, t.`we``ird` = c.`we``ird` "
        "WHEN NOT MATCHED AND c.`__lakesync_op` = 'I' THEN INSERT (`id`, `unit price`, `legacy`, `we``ird`) "
        "VALUES (c.`id`, c.`unit price`, CAST(NULL AS string), c.`we``ird`)"
    )
    assert "NOT MATCHED BY SOURCE" not in sql


def test_create_and_alter_sql() -> None:
    ident = sqltext.table_ident("lake", "shop", "select")
    create = sqltext.create_table_as(ident, "v", [("a b", "A b", "int")], replace=True)
    assert create.startswith("CREATE OR REPLACE TABLE `lake`.`shop`.`select` USING iceberg TBLPROPERTIES (")
    assert "'write.merge.mode' = 'merge-on-read'" in create
    assert create.endswith("AS SELECT CAST(`A b` AS int) AS `a b` FROM `v`")
    assert sqltext.add_columns(ident, [("größe", "int")]) == "ALTER TABLE `lake`.`shop`.`select` ADD COLUMNS (`größe` int)"
    assert sqltext.widen_column(ident, "qty", "bigint") == "ALTER TABLE `lake`.`shop`.`select` ALTER COLUMN `qty` TYPE bigint"


def test_a_negative_scale_in_information_schemas_form_is_the_declared_one() -> None:
    """information_schema reports numeric(5,-2)'s scale as 2046: exports written so load as decimal(7,0)."""
    entry = {"columnName": "h", "originalType": "numeric", "expectedExportedType": "binary (UTF8)",
             "originalNumPrecision": 5, "originalNumScale": 2046}
    mapping = ColumnMapping.from_json(entry)
    assert mapping.num_scale == -2
    assert plan_column(mapping, "h", "string").lake_type == "decimal(7,0)"
    assert ColumnMapping.from_json({**entry, "originalNumScale": 4}).num_scale == 4
