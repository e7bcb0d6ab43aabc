"""Spark configuration: the local session (tests, embedded mode) and the Glue catalog conf.

Iceberg's Spark settings are static (read when the session starts), so both builders
return the complete conf up front.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from .args import parse_table_bucket_arn

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ICEBERG_EXTENSIONS = "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"
SPARK_CATALOG = "org.apache.iceberg.spark.SparkCatalog"
GLUE_CATALOG_IMPL = "org.apache.iceberg.aws.glue.GlueCatalog"
S3_FILE_IO = "org.apache.iceberg.aws.s3.S3FileIO"


def _toolchain_candidates() -> list[Path]:
    starts = [Path.cwd(), Path(__file__).resolve().parent]
    seen: list[Path] = []
    for start in starts:
        for folder in [start, *start.parents]:
            candidate = folder / ".lakesync" / "toolchain.json"
            if candidate not in seen:
                seen.append(candidate)
    return seen


def toolchain() -> dict[str, str]:
    """.lakesync/toolchain.json written by scripts/bootstrap.sh (searched upwards), or {}."""
    for candidate in _toolchain_candidates():
        if candidate.is_file():
            with open(candidate, encoding="utf-8") as handle:
                data = json.load(handle)
            return {k: str(v) for k, v in data.items()}
    return {}


def find_iceberg_jar(jar: str | None = None) -> str:
    """The Iceberg Spark runtime jar: argument, $LAKESYNC_ICEBERG_JAR, or the toolchain file."""
    path = jar or os.environ.get("LAKESYNC_ICEBERG_JAR") or toolchain().get("icebergJar")
    if not path or not os.path.isfile(path):
        raise FileNotFoundError(
            f"Iceberg Spark runtime jar not found ({path or 'not configured'}); run `bash scripts/bootstrap.sh` "
            "or set LAKESYNC_ICEBERG_JAR to iceberg-spark-runtime-3.5_2.12-1.7.1.jar"
        )
    return path


def find_postgres_jdbc_jar() -> str | None:
    """The PostgreSQL JDBC driver for direct loads: $LAKESYNC_POSTGRES_JDBC_JAR or the toolchain file.

    Optional: export loads do not need it, and a direct load without it fails with a message
    naming the driver (jdbc.py).
    """
    path = os.environ.get("LAKESYNC_POSTGRES_JDBC_JAR") or toolchain().get("postgresJdbcJar")
    return path if path and os.path.isfile(path) else None


def common_conf(catalog: str) -> dict[str, str]:
    return {
        "spark.sql.extensions": ICEBERG_EXTENSIONS,
        f"spark.sql.catalog.{catalog}": SPARK_CATALOG,
        # Always read the table's latest metadata: other writers (compaction) commit too.
        f"spark.sql.catalog.{catalog}.cache-enabled": "false",
        # Timestamps with time zone are instants; format and parse them in UTC.
        "spark.sql.session.timeZone": "UTC",
        # Iceberg 1.7.1's vectorized (Arrow) Parquet reader reuses batches that Spark 3.5.4 closes
        # (SPARK-50235; fixed in Iceberg 1.7.2): the JVM crashes reading MOR tables. Row reads are safe.
        "spark.sql.iceberg.vectorization.enabled": "false",
        # Names and values reach SQL text quoted, but Spark rewrites `${...}` even inside quotes
        # (variable substitution, `${nope}` becomes ''): a column `a${x}` would read column `a`,
        # and a key `a${x}` in a MERGE's key list would match no row.
        "spark.sql.variable.substitute": "false",
        # PostgreSQL column names are case-sensitive: an export may hold "Note" and "NOTE" (one of them
        # excluded or renamed by a column policy). Read case-insensitively, the Parquet files fail
        # with duplicate fields and the exact names the job quotes would be ambiguous.
        "spark.sql.caseSensitive": "true",
    }


def java_option(name: str, value: str) -> str:
    """`-Dname=value` quoted for Spark's launcher, which splits Java options at spaces outside quotes."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"-D{name}={escaped}"'


def local_spark_conf(warehouse: str, catalog: str = "lake", jar: str | None = None) -> dict[str, str]:
    """A Hadoop Iceberg catalog over a local folder, named like production so SQL is identical."""
    conf = common_conf(catalog)
    jars = [find_iceberg_jar(jar), find_postgres_jdbc_jar()]
    conf.update(
        {
            "spark.jars": ",".join(j for j in jars if j),
            f"spark.sql.catalog.{catalog}.type": "hadoop",
            f"spark.sql.catalog.{catalog}.warehouse": os.path.abspath(warehouse),
            "spark.master": "local[2]",
            "spark.driver.memory": "2g",
            # The JVM's temporary files (Spark's spark-*/blockmgr-* folders) go where Python's do, so
            # a runner given a TMPDIR of its own keeps them there, even when its JVM is killed. The
            # default options, which Spark puts before the extra ones: --driver-java-options (e.g. in
            # PYSPARK_SUBMIT_ARGS) sets the extra ones and would replace this.
            "spark.driver.defaultJavaOptions": java_option("java.io.tmpdir", tempfile.gettempdir()),
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.adaptive.enabled": "true",
            # Spark's own (non-Iceberg) catalog folder, otherwise ./spark-warehouse in the working directory.
            "spark.sql.warehouse.dir": os.path.join(tempfile.gettempdir(), "lakesync-spark-sql-warehouse"),
        }
    )
    return conf


def glue_spark_conf(catalog: str, table_bucket_arn: str) -> dict[str, str]:
    """The Glue Data Catalog view of an S3 Tables bucket (analytics integration)."""
    region, account, bucket = parse_table_bucket_arn(table_bucket_arn)
    conf = common_conf(catalog)
    conf.update(
        {
            f"spark.sql.catalog.{catalog}.catalog-impl": GLUE_CATALOG_IMPL,
            f"spark.sql.catalog.{catalog}.glue.id": f"{account}:s3tablescatalog/{bucket}",
            f"spark.sql.catalog.{catalog}.warehouse": f"s3://{bucket}/warehouse/",
            f"spark.sql.catalog.{catalog}.io-impl": S3_FILE_IO,
            f"spark.sql.catalog.{catalog}.client.region": region,
        }
    )
    return conf


def build_local_spark(warehouse: str, catalog: str = "lake", jar: str | None = None) -> "SparkSession":
    """The local SparkSession with an Iceberg catalog `catalog` over `warehouse`.

    One JVM per process: when a session is already running it is reused, provided its
    catalog points at the same warehouse (catalog settings cannot change afterwards).
    """
    from pyspark.sql import SparkSession

    java_home = toolchain().get("javaHome")
    if java_home and not os.environ.get("JAVA_HOME") and os.path.isdir(java_home):
        os.environ["JAVA_HOME"] = java_home
    conf = local_spark_conf(warehouse, catalog, jar)
    active = SparkSession.getActiveSession()
    if active is not None:
        key = f"spark.sql.catalog.{catalog}.warehouse"
        current = active.conf.get(key, None)
        if current is None:
            for name, value in conf.items():
                if name.startswith(f"spark.sql.catalog.{catalog}"):
                    active.conf.set(name, value)
            return active
        if os.path.abspath(current) != conf[key]:
            raise ValueError(
                f"a Spark session is already running with catalog {catalog!r} over {current}; "
                f"it cannot switch to {conf[key]} (one warehouse per process)"
            )
        return active
    builder = SparkSession.builder.appName("lakesync-load")
    for name, value in conf.items():
        builder = builder.config(name, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def query_session(spark: "SparkSession", catalog: str) -> "SparkSession":
    """A session over the same lake for read-only queries (`lakesync query`, verification checks).

    Loads resolve names case-sensitively (common_conf); queries name lake columns as Athena lets
    them, in any case, so their session resolves names case-insensitively.
    """
    session = spark.newSession()
    session.conf.set("spark.sql.caseSensitive", "false")
    session.catalog.setCurrentCatalog(catalog)
    return session

