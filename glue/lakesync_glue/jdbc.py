"""The JDBC connection of a direct load: credentials by reference, Spark's JDBC options, clear errors.

The password comes from an environment variable (local runner), a Secrets Manager secret
(SecretString JSON with `password` and an optional `username`) or an RDS IAM authentication
token; it is never logged, never in a message, never in the result.
"""
from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .args import JobArgs
from .errors import InternalError, InvalidArgument, LoadError
from .jdbcurl import JdbcArgs, split_s3_object
from .secrets import secret_string

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

DRIVER = "org.postgresql.Driver"
# Rows per round trip: executors hold one batch per partition, whatever the window's size.
FETCH_SIZE = 10_000
# Every connection reads times in UTC, so timestamptz text and range bounds mean one instant; and the
# text of intervals, bytea (in arrays) and money in the forms an export writes, whatever the database
# or role sets (lc_monetary 'de_DE' prints money as '1.234,50 €', which the load cannot read; extra_float_digits
# 0 prints a float in 15 digits, 0.30000000000000004 as 0.3: 3 prints every digit, the shortest exact text on
# PostgreSQL 12 and later, as an export writes it, and 17 significant digits, exact too, before).
SESSION_INIT = ("SET TIME ZONE 'UTC'; SET IntervalStyle = 'postgres'; SET bytea_output = 'hex'; "
                "SET lc_monetary = 'C'; SET extra_float_digits = 3")
# SQLSTATE classes: 08 connection exceptions and 57P0x server shutdowns pass (retry); 28 is bad credentials.
_RETRYABLE_STATES = ("08", "57P", "53", "40001", "40P01")
_CREDENTIAL_STATES = ("28",)
# A query canceled (statement_timeout, or by an administrator) or a lock not granted in time (lock_timeout,
# e.g. behind an ALTER TABLE): the table and the user are fine, a later attempt can pass.
_CANCELED = "57014"
_LOCK_TIMEOUT = "55P03"


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Connection:
    """The resolved connection: Spark's JDBC options (with the password) and what messages may name."""

    jdbc: JdbcArgs
    credentials: Credentials = field(repr=False)
    target: str
    # The file pgJDBC checks the server's certificate against (verify-ca/verify-full only).
    ssl_root_cert: str | None = None

    @property
    def where(self) -> str:
        return f"table {self.target} at {self.jdbc.address}"

    def options(self) -> dict[str, str]:
        opts = {
            "url": self.jdbc.url,
            "driver": DRIVER,
            "user": self.credentials.user,
            "password": self.credentials.password,
            "fetchsize": str(FETCH_SIZE),
            "sessionInitStatement": SESSION_INIT,
            "connectTimeout": "20",
            "ApplicationName": "lakesync",
            # A direct load only reads: every session is read-only (pgJDBC sets it when the session opens,
            # autocommit or not), so no text that reaches the source can write to it.
            "readOnly": "true",
            "readOnlyMode": "always",
        }
        if self.jdbc.iam_auth and "sslmode=" not in self.jdbc.url:
            opts["sslmode"] = "require"  # RDS accepts IAM tokens over SSL only
        if self.ssl_root_cert and self.jdbc.verifies_server:
            # Without it pgJDBC looks for ~/.postgresql/root.crt, which a Glue job does not have.
            opts["sslrootcert"] = self.ssl_root_cert
        return opts

    def scrub(self, text: str) -> str:
        """Text with the password taken out (driver messages never hold it; this makes sure)."""
        return text.replace(self.credentials.password, "***") if self.credentials.password else text

    def query(self, spark: "SparkSession", sql: str) -> "DataFrame":
        """A small catalog or bound query over the connection, as a frame (read on the driver)."""
        reader = spark.read.format("jdbc").options(**self.options()).option("query", sql)
        return reader.load()

    def collect(self, spark: "SparkSession", sql: str, what: str) -> list[Any]:
        try:
            return self.query(spark, sql).collect()
        except Exception as exc:  # noqa: BLE001 - classified into a clear, secret-free error
            raise self.failure(exc, what) from None

    def failure(self, exc: BaseException, what: str) -> LoadError:
        return classify(exc, self, what)


def _from_secret(secret_id: str, user: str, args: JobArgs) -> Credentials:
    where = f"table {args.target}: --jdbc_secret {secret_id!r}"
    text = secret_string(secret_id, where, args)
    try:
        document = json.loads(text) if text else None
    except ValueError:
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("password"), str) or not document["password"]:
        # The content is never quoted: it is the secret.
        raise InvalidArgument(
            f"{where}: the SecretString is not a JSON object with a non-empty \"password\" (and an optional "
            "\"username\"); store the database credentials in that form (RDS-managed secrets are)"
        )
    username = document.get("username")
    if isinstance(username, str) and username:
        return Credentials(username, document["password"])
    if not user:
        raise InvalidArgument(
            f"{where}: the secret's JSON has no \"username\" and no --jdbc_user was given; add \"username\" to the "
            "secret, or set source.catalog.user"
        )
    return Credentials(user, document["password"])


def _iam_token(jdbc: JdbcArgs, args: JobArgs) -> Credentials:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise InvalidArgument(
            f"table {args.target}: --jdbc_iam_auth true needs the database's region; pass --region <region>"
        )
    try:
        token = boto3.client("rds", region_name=region).generate_db_auth_token(
            DBHostname=jdbc.host, Port=jdbc.port, DBUsername=jdbc.user, Region=region
        )
    except (BotoCoreError, ClientError) as exc:
        raise InvalidArgument(
            f"table {args.target}: could not sign an RDS IAM authentication token for user {jdbc.user!r} at "
            f"{jdbc.host}:{jdbc.port} ({type(exc).__name__}); the job needs AWS credentials and rds-db:connect"
        ) from None
    return Credentials(jdbc.user, token)


# The CA bundle of each S3 URI, fetched once per run: every connection of the run reads the same file.
_ROOT_CERTS: dict[str, str] = {}
# Most bytes a CA bundle may have (the RDS global bundle is about 200 KB).
_ROOT_CERT_MAX_BYTES = 4 * 1024 * 1024


def fetch_root_cert(uri: str, args: JobArgs) -> str:
    """The local path of the CA bundle at `uri`, downloaded with boto3 into a private folder once per run."""
    if uri in _ROOT_CERTS and os.path.isfile(_ROOT_CERTS[uri]):
        return _ROOT_CERTS[uri]
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    where = f"table {args.target}: --jdbc_ssl_root_cert {uri}"
    bucket, key = split_s3_object(uri) or ("", "")
    try:
        client = boto3.client("s3", **({"region_name": args.region} if args.region else {}))
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read(_ROOT_CERT_MAX_BYTES + 1)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "NoSuchBucket", "404", "AccessDenied", "403"):
            raise InvalidArgument(
                f"{where}: S3 GetObject failed with {code}; upload the database's CA bundle there (for RDS "
                "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem) and let the job role call "
                "s3:GetObject on it, or correct source.catalog.sslRootCert"
            ) from None
        raise InternalError(f"{where}: S3 GetObject failed with {code or 'an error'}; retry the load") from None
    except BotoCoreError as exc:
        raise InternalError(f"{where}: could not reach S3 ({type(exc).__name__}); retry the load") from None
    if len(body) > _ROOT_CERT_MAX_BYTES or b"-----BEGIN CERTIFICATE-----" not in body:
        raise InvalidArgument(
            f"{where}: the object is not a PEM certificate bundle; upload the database's CA bundle in PEM form "
            "(for RDS https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem)"
        )
    folder = tempfile.mkdtemp(prefix="lakesync-ssl-")  # mode 0700
    # Kept for the process's later loads (a local runner serves many); gone when it exits.
    atexit.register(shutil.rmtree, folder, True)
    path = os.path.join(folder, f"root-{hashlib.sha256(uri.encode()).hexdigest()[:12]}.pem")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(body)
    _ROOT_CERTS[uri] = path
    return path


def share_root_cert(spark: "SparkSession", path: str) -> str:
    """
    The sslrootcert value every JVM of the run can open. Spark's JDBC reads connect on the driver
    (schema) and on the executors (rows); a local session is one JVM, so the driver's path serves.
    On a cluster the file goes to every executor's working directory (SparkContext.addFile) and
    into the driver JVM's, and the relative file name resolves in each.
    """
    sc = spark.sparkContext
    if str(sc.master).startswith("local"):
        return path
    name = os.path.basename(path)
    sc.addFile(path)
    driver_dir = str(sc._jvm.java.lang.System.getProperty("user.dir"))  # noqa: SLF001 - the driver JVM's cwd
    shutil.copyfile(path, os.path.join(driver_dir, name))
    return name


def resolve(args: JobArgs, spark: "SparkSession | None" = None) -> Connection:
    """The connection with its password, from the one source the arguments name."""
    jdbc = args.jdbc
    assert jdbc is not None, "direct loads always carry their JDBC arguments (args.py)"
    if jdbc.password_env:
        password = os.environ.get(jdbc.password_env, "")
        if not password:
            raise InvalidArgument(
                f"table {args.target}: --jdbc_password_env {jdbc.password_env!r}: the variable is not set or empty "
                "in the load's environment; set it where the load runs (lakesync hands the source's password over it)"
            )
        credentials = Credentials(jdbc.user, password)
    elif jdbc.secret:
        credentials = _from_secret(jdbc.secret, jdbc.user, args)
    else:
        credentials = _iam_token(jdbc, args)
    conn = Connection(jdbc, credentials, args.target)
    if jdbc.ssl_root_cert and jdbc.verifies_server:
        path = fetch_root_cert(jdbc.ssl_root_cert, args)
        conn = replace(conn, ssl_root_cert=share_root_cert(spark, path) if spark is not None else path)
    return conn


def _java_chain(exc: BaseException) -> list[Any]:
    chain: list[Any] = []
    java = getattr(exc, "java_exception", None)
    while java is not None and len(chain) < 12:
        chain.append(java)
        try:
            java = java.getCause()
        except Exception:  # noqa: BLE001 - the JVM may be gone
            break
    return chain


def sql_state(exc: BaseException) -> tuple[str | None, str]:
    """(SQLSTATE, message) of the first SQLException in the exception's Java causes, else (None, text)."""
    for java in _java_chain(exc):
        try:
            state = java.getSQLState()
        except Exception:  # noqa: BLE001 - not an SQLException
            continue
        return (str(state) if state else None), str(java.getMessage() or "")
    text = str(exc).strip()
    return None, text.splitlines()[0] if text else type(exc).__name__


def classify(exc: BaseException, conn: Connection, what: str) -> LoadError:
    """A failure of the source over JDBC as a clear, password-free error: retryable or not."""
    if isinstance(exc, LoadError):
        return exc
    state, message = sql_state(exc)
    message = conn.scrub(message)[:400]
    code = f"SQLSTATE {state}: " if state else ""
    if state and state.startswith(_CREDENTIAL_STATES):
        return InvalidArgument(
            f"{conn.where}: {what} failed: the database refused user {conn.credentials.user!r} ({code}{message}); "
            "check the user and its password source, and that the user may connect to the database"
        )
    if state is None and "ClassNotFoundException" in str(exc) and DRIVER in str(exc):
        return InternalError(
            f"{conn.where}: the PostgreSQL JDBC driver ({DRIVER}) is not on Spark's classpath; run "
            "`bash scripts/bootstrap.sh` (local) or add the driver jar to the job (--extra-jars)"
        )
    if state == _CANCELED:
        return InternalError(
            f"{conn.where}: {what} failed: PostgreSQL canceled the query ({code}{message}), as statement_timeout "
            f"ran out or an administrator canceled it; raise statement_timeout for user {conn.credentials.user!r} "
            "(ALTER ROLE ... SET statement_timeout = ...) or read in more --partitions so each query is shorter; "
            "the load is retried"
        )
    if state == _LOCK_TIMEOUT:
        return InternalError(
            f"{conn.where}: {what} failed: the table was locked by another session for longer than lock_timeout "
            f"({code}{message}), e.g. by an ALTER TABLE or VACUUM FULL; raise lock_timeout for user "
            f"{conn.credentials.user!r} (ALTER ROLE ... SET lock_timeout = ...) or sync when no such change runs; "
            "the load is retried"
        )
    if state is None or state.startswith(_RETRYABLE_STATES):
        return InternalError(
            f"{conn.where}: {what} failed: could not read from PostgreSQL at {conn.jdbc.host}:{conn.jdbc.port} "
            f"({code}{message}); check that the database is up and reachable from the job (network, security "
            "groups, the Glue connection); the load is retried"
        )
    return InvalidArgument(f"{conn.where}: {what} failed ({code}{message}); {_hint(state, conn)}")


def _hint(state: str, conn: Connection) -> str:
    """What to do about a query PostgreSQL refused, by its SQLSTATE (class 22 data, 42 names and rights)."""
    if state == "42501":
        return (f"user {conn.credentials.user!r} may not read it: GRANT SELECT on the table (and USAGE on its "
                "schema) to that user")
    if state in ("42P01", "3F000"):
        return "the table or its schema no longer exists as named; check the table's name in the sync's config"
    if state == "42703":
        return ("a column the load reads no longer exists as named (renamed or dropped); check the cursor, key "
                "and partition columns in the sync's config against the table")
    if state.startswith("22"):
        return ("PostgreSQL could not compute a value of the query from the table's data (a data exception, "
                "SQLSTATE class 22), e.g. a cursor or partition bound outside the range of the column's "
                "type or a value that does not convert; check the values the message names and the cursor "
                "column's type; a retry fails the same way")
    if state.startswith("42"):
        return "check the table, its columns and their types in the sync's config against the table"
    return "check the table, its columns and the user's privileges (SELECT on the table)"
