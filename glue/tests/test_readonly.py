"""The read-only check of the load runner's /sql: Spark's parser (with Iceberg's extensions) decides."""
from __future__ import annotations

from typing import Any

import pytest

from lakesync_glue.readonly import ReadOnlyRefused, assert_read_only, statement_count, statement_kind

T = "lake.tests.guarded"

# [statement, what the refusal names]
REFUSED = [
    (f"WITH c AS (SELECT 1) INSERT INTO {T} SELECT * FROM c", "INSERT"),
    (f"WITH c AS (SELECT 1) DELETE FROM {T} WHERE id > 0", "DELETE"),
    (f"WITH c AS (SELECT 1) UPDATE {T} SET id = 0", "UPDATE"),
    (f"WITH s AS (SELECT * FROM {T}) MERGE INTO {T} t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", "MERGE"),
    (f"WITH a AS (SELECT 1), b AS (SELECT * FROM a) INSERT OVERWRITE {T} SELECT * FROM b", "INSERT"),
    (f"FROM {T} INSERT INTO {T} SELECT * INSERT INTO {T} SELECT *", "INSERT"),
    (f"INSERT INTO {T} VALUES (1)", "INSERT"),
    (f"INSERT OVERWRITE {T} SELECT * FROM {T}", "INSERT"),
    ("INSERT OVERWRITE DIRECTORY '/tmp/out' USING parquet SELECT 1", "INSERT OVERWRITE DIRECTORY"),
    (f"DELETE FROM {T}", "DELETE"),
    (f"UPDATE {T} SET id = 1", "UPDATE"),
    (f"DROP TABLE {T}", "DROP TABLE"),
    ("DROP NAMESPACE lake.tests", "DROP NAMESPACE"),
    ("CREATE TABLE lake.tests.intruder (id bigint) USING iceberg", "CREATE TABLE"),
    (f"CREATE TABLE lake.tests.copied USING iceberg AS SELECT * FROM {T}", "CREATE TABLE AS SELECT"),
    (f"REPLACE TABLE {T} USING iceberg AS SELECT 1 AS id", "REPLACE TABLE AS SELECT"),
    (f"ALTER TABLE {T} ADD COLUMN note string", "ALTER TABLE ADD COLUMNS"),
    (f"ALTER TABLE {T} SET TBLPROPERTIES ('a' = 'b')", "ALTER TABLE SET TBLPROPERTIES"),
    (f"ALTER TABLE {T} WRITE ORDERED BY id", "SET WRITE DISTRIBUTION AND ORDERING"),
    (f"ALTER TABLE {T} CREATE BRANCH b", "ALTER TABLE CREATE BRANCH"),
    (f"TRUNCATE TABLE {T}", "TRUNCATE TABLE"),
    ("CALL lake.system.rollback_to_snapshot('tests.guarded', 1)", "CALL"),
    ("CALL lake.system.expire_snapshots(table => 'tests.guarded', retain_last => 1)", "CALL"),
    ("/*/ SELECT */ CALL lake.system.rollback_to_snapshot('tests.guarded', 1)", "CALL"),
    ("SET spark.sql.shuffle.partitions=1", "SET"),
    ("SET", "SET"),
    ("RESET", "RESET"),
    ("USE tests", "USE"),
    (f"CACHE TABLE {T}", "CACHE TABLE"),
    ("CLEAR CACHE", "CLEAR CACHE"),
    ("ADD JAR /tmp/x.jar", "ADD JARS"),
    ("CREATE TEMPORARY VIEW v AS SELECT 1", "CREATE VIEW"),
    ("CREATE FUNCTION f AS 'x.Y'", "CREATE FUNCTION"),
    (f"MSCK REPAIR TABLE {T}", "REPAIR TABLE"),
    (f"LOAD DATA INPATH '/tmp/x' INTO TABLE {T}", "LOAD DATA"),
    (f"EXPLAIN DELETE FROM {T}", "DELETE"),
    (f"EXPLAIN EXTENDED WITH c AS (SELECT 1) INSERT INTO {T} SELECT * FROM c", "INSERT"),
    (f"/* just a comment */ DELETE FROM {T}", "DELETE"),
    (f"-- SELECT\nDELETE FROM {T}", "DELETE"),
    (f" \n\t dElEtE FrOm {T}", "DELETE"),
    (f"SELECT TRANSFORM(id) USING 'cat' AS (x) FROM {T}", "SELECT TRANSFORM"),
    ("SELECT reflect('java.lang.System', 'setProperty', 'a', 'b')", "reflect"),
    ("SELECT upper(JAVA_METHOD('java.lang.System', 'getenv', 'HOME'))", "java_method"),
    (f"SELECT * FROM {T} WHERE id IN (SELECT reflect('java.lang.System', 'getenv', 'HOME'))", "reflect"),
    ("SELECT IDENTIFIER('reflect')('java.lang.System', 'getenv', 'HOME')", "IDENTIFIER"),
    # The WINDOW clause's specs sit outside the operator's expressions.
    ("SELECT count(*) OVER w FROM range(1) WINDOW w AS (PARTITION BY reflect('java.lang.System', 'setProperty', "
     "'lakesync.window', 'x'))", "reflect"),
    ("SELECT count(*) OVER w FROM range(1) WINDOW w AS (ORDER BY java_method('java.lang.System', 'getenv', 'HOME'))",
     "java_method"),
    # Several statements: Spark parses one; the refusal counts them.
    (f"SELECT 1; DROP TABLE {T}", "2 statements"),
    (f"WITH c AS (SELECT 1) SELECT * FROM c; DELETE FROM {T}", "2 statements"),
    (f"SELECT ';' AS s; SELECT 2; DELETE FROM {T}", "3 statements"),
]

ACCEPTED = [
    f"SELECT id, count(*) FROM {T} WHERE id > 1 GROUP BY id HAVING count(*) > 0 ORDER BY id LIMIT 5",
    "WITH a AS (SELECT 1 AS x), b AS (SELECT x FROM a) SELECT * FROM b",
    "(SELECT 1) UNION ALL (SELECT 2)",
    "VALUES (1, 'a'), (2, 'b')",
    f"TABLE {T}",
    f"FROM {T} SELECT id",
    "SELECT 1;",
    "/* a comment */ select 1 -- and another\n",
    f"SELECT a.id FROM {T} a JOIN {T} b ON a.id = b.id WHERE EXISTS (SELECT 1) AND a.id IN (SELECT id FROM {T})",
    f"SELECT * FROM {T}.snapshots",
    f"SELECT * FROM {T} VERSION AS OF 1",
    "SELECT * FROM range(3)",
    f"SELECT id, row_number() OVER w FROM {T} WINDOW w AS (ORDER BY id)",
    f"SELECT * FROM {T} LATERAL VIEW explode(array(1, 2)) x AS y",
    "SELECT 'DELETE FROM t; DROP TABLE t' AS s",
    "SHOW TABLES",
    "SHOW TABLES IN tests",
    "SHOW NAMESPACES",
    f"SHOW CREATE TABLE {T}",
    f"SHOW TBLPROPERTIES {T}",
    f"SHOW COLUMNS IN {T}",
    f"DESCRIBE {T}",
    f"DESC TABLE EXTENDED {T}",
    f"DESCRIBE {T} id",
    "DESCRIBE NAMESPACE tests",
    f"EXPLAIN SELECT * FROM {T}",
    "EXPLAIN EXTENDED WITH c AS (SELECT 1) SELECT * FROM c",
    "DESCRIBE QUERY SELECT 1 AS one",
]


@pytest.mark.parametrize(("sql", "named"), REFUSED, ids=[s for s, _ in REFUSED])
def test_writes_and_admin_statements_are_refused_naming_them(spark: Any, sql: str, named: str) -> None:
    with pytest.raises(ReadOnlyRefused) as refused:
        assert_read_only(spark, sql)
    message = str(refused.value)
    assert "lakesync query is read-only" in message
    assert named in message, message


@pytest.mark.parametrize("sql", ACCEPTED)
def test_reads_pass(spark: Any, sql: str) -> None:
    assert_read_only(spark, sql)


def test_a_refused_statement_changes_nothing_and_reads_still_run(spark: Any) -> None:
    spark.sql(f"CREATE TABLE IF NOT EXISTS {T} (id bigint) USING iceberg")
    spark.sql(f"INSERT INTO {T} VALUES (1), (2)")
    before = spark.sql(f"SELECT snapshot_id FROM {T}.snapshots").collect()
    for sql, _ in REFUSED:
        with pytest.raises(ReadOnlyRefused):
            assert_read_only(spark, sql)
    assert spark.sql(f"SELECT snapshot_id FROM {T}.snapshots").collect() == before
    assert spark.sql(f"SELECT count(*) FROM {T}").collect()[0][0] == 2
    assert spark.conf.get("spark.sql.shuffle.partitions") != "1"
    for sql in ACCEPTED:
        assert_read_only(spark, sql)


def test_a_syntax_error_is_spark_s_parse_exception(spark: Any) -> None:
    from pyspark.errors import ParseException

    with pytest.raises(ParseException):
        assert_read_only(spark, "SELEC 1")


@pytest.mark.parametrize(
    ("sql", "count"),
    [
        ("SELECT 1", 1),
        ("SELECT 1;", 1),
        (" ; ;SELECT 1;; ", 1),
        ("SELECT 1; SELECT 2", 2),
        ("SELECT ';'", 1),
        ('SELECT ";"', 1),
        ("SELECT 'it\\'s; fine'", 1),
        ("SELECT r'\\'; SELECT 2", 2),
        ("SELECT `a;b` FROM t", 1),
        ("SELECT 1 -- ; DROP\n", 1),
        ("SELECT 1 /* /* ; */ ; */", 1),
        ("/* a */ ; /* b */", 0),
        ("SELECT 1 /* x */; DROP TABLE t", 2),
    ],
)
def test_statements_are_counted_by_spark_s_lexical_rules(sql: str, count: int) -> None:
    assert statement_count(sql) == count


def test_statement_kinds_read_like_sql() -> None:
    assert statement_kind("org.apache.spark.sql.catalyst.plans.logical.DropNamespace") == "DROP NAMESPACE"
    assert statement_kind("org.apache.spark.sql.catalyst.plans.logical.CreateTableAsSelect") == "CREATE TABLE AS SELECT"
    assert statement_kind("org.apache.spark.sql.execution.command.ClearCacheCommand$") == "CLEAR CACHE"
    assert statement_kind("org.apache.spark.sql.catalyst.plans.logical.DeleteFromTable") == "DELETE"


def test_the_analyzed_plan_is_a_second_fence_against_java_calls(spark: Any) -> None:
    """Whatever the parse check missed, reflect() / java_method() are refused once analyzed, before anything runs."""
    from lakesync_glue.query import run_query
    from lakesync_glue.readonly import assert_no_java_calls

    for sql in ("SELECT reflect('java.lang.System', 'setProperty', 'lakesync.fence', 'x')",
                "SELECT count(*) OVER w FROM range(1) WINDOW w AS (PARTITION BY "
                "reflect('java.lang.System', 'setProperty', 'lakesync.fence', 'x'))",
                "SELECT * FROM range(2) WHERE id IN (SELECT length(java_method('java.lang.System', 'setProperty', "
                "'lakesync.fence', 'x')))"):
        with pytest.raises(ReadOnlyRefused):
            run_query(spark, sql, before_run=assert_no_java_calls)
    assert spark.sparkContext._jvm.java.lang.System.getProperty("lakesync.fence") is None, "nothing ran"
    assert run_query(spark, "SELECT count(*) OVER w AS n FROM range(2) WINDOW w AS (ORDER BY id)",
                     before_run=assert_no_java_calls) == [{"n": 1}, {"n": 2}]


def test_max_rows_returns_the_first_rows_of_the_answer_only(spark: Any) -> None:
    """The cap is applied in Spark, in the answer's order; SHOW and DESCRIBE answers are capped too."""
    from lakesync_glue.query import run_query

    assert run_query(spark, "SELECT id FROM range(0, 100000) ORDER BY id DESC", max_rows=3) == [
        {"id": 99999}, {"id": 99998}, {"id": 99997}]
    assert len(run_query(spark, "SELECT id FROM range(0, 5)", max_rows=10)) == 5
    assert len(run_query(spark, "SHOW FUNCTIONS", max_rows=2)) == 2
