"""Job arguments: parsing and validation, before any Spark work.

Glue passes `--name value` pairs (snake_case names); the local entry takes the same flags.
Every rejection names the argument, the value and the fix.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from .dynamodb_args import DynamoArgs, parse_dynamodb_args
from .errors import InvalidArgument
from .policies import ColumnPolicy, check_direct_cursor_type, parse_column_policies
from .jdbcurl import JdbcArgs, parse_jdbc_args
from .names import catalog_name_problem, s3_tables_name_problem, suggest_s3_tables_name
from .window import Lookback, parse_lookback

Mode = Literal["glue", "local"]
ACTIONS: tuple[str, ...] = ("create", "merge", "replace", "incremental")
CURSOR_MODES: tuple[str, ...] = ("upsert", "append")
EXTRACTS: tuple[str, ...] = ("export", "direct")
SOURCE_FORMATS: tuple[str, ...] = ("postgres", "dynamodb")
# DynamoDB loads (--source_format dynamodb) read the table's exports listed in --dynamodb_exports instead.
DYNAMODB_REQUIRED: tuple[str, ...] = ("dynamodb_exports", "dynamodb_key")
# Arguments only an export load has: a direct load reads the source table over JDBC instead.
EXPORT_ONLY: tuple[str, ...] = ("export_path", "export_id", "snapshot_time")

COMMON_REQUIRED: tuple[str, ...] = (
    "export_path",
    "source_database",
    "source_schema",
    "source_table",
    "namespace",
    "lake_table",
    "action",
    "cycle_id",
    "run_token",
    "result_path",
    # Lineage, recorded in every commit and checked before any write.
    "source",
    "export_id",
    "snapshot_time",
)
COMMON_OPTIONAL: tuple[str, ...] = (
    "catalog",
    "primary_key",
    "cursor_column",
    "cursor_mode",
    "cursor_lookback",
    # With --action create: the action of the loads after the create (merge, replace, incremental), so that only
    # a table that will be merged into by key is held to the rules of Spark's MERGE.
    "next_action",
    "max_delete_fraction",
    "approve_deletes",
    "allow_older_export",
    # Example row values in cast and key errors: only when the source opts in (errors.showValues).
    "show_values",
    # Column-level control: exclude, hash, rename, type, onInvalid per source column (policies.py).
    "column_policies",
    # Where the HMAC key of hashed columns comes from: never the key itself (arguments may be logged).
    "hash_key_env",
    "hash_key_secret",
    # Replace the table from the export with the types this job version derives (e.g. arrays as lists).
    "rebuild",
    # Direct extract (--extract direct): the table is read over JDBC by a cursor window (direct.py).
    "extract",
    "jdbc_url",
    "jdbc_user",
    "jdbc_password_env",
    "jdbc_secret",
    "jdbc_iam_auth",
    "partitions",
    "partition_column",
    # JSON list of the partitions (schema.table, every level) of a partitioned table that the cycle's plan
    # checked against the exclude rules: the job reads only those, and refuses a table with any other.
    "known_partitions",
    # s3://bucket/key of the CA bundle pgJDBC checks the server against with sslmode verify-ca/verify-full.
    "jdbc_ssl_root_cert",
    # AWS region of the JDBC secret and of IAM database authentication (default: the job's).
    "region",
    # DynamoDB tables (dynamodb_args.py): the exports, the key schema and the declared attributes.
    "source_format",
    "dynamodb_exports",
    "dynamodb_key",
    "dynamodb_attributes",
    # The table's part files as the cycle's discovery saw them (count, bytes; both or neither): the job refuses
    # a table whose files differ when it lists them (removed since, by an S3 lifecycle rule or a delete).
    "export_part_files",
    "export_part_bytes",
)
# With --extract direct, the export arguments are not sent and these are required instead.
DIRECT_REQUIRED: tuple[str, ...] = tuple(n for n in COMMON_REQUIRED if n not in EXPORT_ONLY) + (
    "jdbc_url",
    "cursor_column",
)
MODE_REQUIRED: dict[str, tuple[str, ...]] = {"glue": ("table_bucket_arn",), "local": ("warehouse",)}

TABLE_BUCKET_ARN = re.compile(
    r"arn:(aws[a-z-]*):s3tables:([a-z0-9-]+):(\d{12}):bucket/([a-z0-9][a-z0-9-]{1,61}[a-z0-9])"
)


@dataclass(frozen=True)
class JobArgs:
    """One table load, as the TypeScript side asks for it."""

    export_path: str
    source_database: str
    source_schema: str
    source_table: str
    namespace: str
    lake_table: str
    action: str
    cycle_id: str
    run_token: str
    result_path: str
    source: str
    export_id: str
    snapshot_time: str  # ISO-8601 with a zone, kept as given (see snapshot_instant)
    catalog: str = "lake"
    primary_key: tuple[str, ...] = ()
    cursor_column: str | None = None
    cursor_mode: str | None = None  # resolved: "upsert" | "append" when a cursor is set
    cursor_lookback: Lookback | None = None  # None: the default for the cursor's type (window.py)
    next_action: str | None = None  # with action create: the loads' action once the table exists (None: not told)
    max_delete_fraction: float = 0.5
    approve_deletes: bool = False
    allow_older_export: bool = False
    show_values: bool = False
    column_policies: Mapping[str, ColumnPolicy] = field(default_factory=dict)
    hash_key_env: str | None = None
    hash_key_secret: str | None = None
    rebuild: bool = False
    table_bucket_arn: str | None = None
    warehouse: str | None = None
    extract: str = "export"  # export | direct
    jdbc: JdbcArgs | None = None  # set for direct loads only
    region: str | None = None
    source_format: str = "postgres"  # postgres | dynamodb
    dynamodb: DynamoArgs | None = None  # set for DynamoDB loads only
    export_parts: tuple[int, int] | None = None  # (files, bytes) discovery saw; None: not told (older callers)
    # Not job arguments: knobs for tests and the embedded mode.
    commit_attempts: int = 4
    commit_retry_wait_seconds: float = 2.0

    @property
    def target(self) -> str:
        """The table's name in messages: the export's db.schema.table, or a DynamoDB table's dynamodb.<Name>."""
        return table_label(self.source_format, self.source_database, self.source_schema, self.source_table)

    @property
    def direct(self) -> bool:
        return self.extract == "direct"

    @property
    def is_dynamodb(self) -> bool:
        return self.dynamodb is not None

    @property
    def lake_table_id(self) -> str:
        return f"{self.namespace}.{self.lake_table}"

    @property
    def snapshot_instant(self) -> datetime:
        """The snapshot time as an aware datetime (validated by the parser)."""
        parsed = parse_time(self.snapshot_time)
        assert parsed is not None, "snapshot_time is validated by parse_job_args"
        return parsed

    def with_changes(self, **changes: object) -> "JobArgs":
        return replace(self, **changes)  # type: ignore[arg-type]


def split_argv(argv: Sequence[str]) -> dict[str, str]:
    """`--name value` / `--name=value` pairs into a dict; a flag without a value is an error."""
    options: dict[str, str] = {}
    i = 0
    while i < len(argv):
        token = argv[i]
        if not token.startswith("--") or token == "--":
            raise InvalidArgument(
                f"unexpected argument {token!r}: arguments are '--name value' pairs, e.g. --action merge"
            )
        name = token[2:]
        if "=" in name:
            name, value = name.split("=", 1)
            i += 1
        elif i + 1 < len(argv) and not _names_an_argument(argv[i + 1]):
            # A value may begin with dashes (a table named "--orders"); only one of this job's arguments is a flag.
            value = argv[i + 1]
            i += 2
        else:
            # `--primary_key` followed by another flag: an empty value, as Glue may drop "".
            value = ""
            i += 1
        options[name] = value
    return options


def _names_an_argument(token: str) -> bool:
    """`--<name>` or `--<name>=...` of one of this job's arguments (local runs add --warehouse)."""
    if not token.startswith("--"):
        return False
    name = token[2:].split("=", 1)[0]
    return name in COMMON_REQUIRED or name in COMMON_OPTIONAL or any(name in names for names in MODE_REQUIRED.values())


def _fail(name: str, value: object, problem: str, fix: str) -> InvalidArgument:
    return InvalidArgument(f"--{name} {value!r}: {problem}; {fix}")


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("", "false"):
        return False
    if lowered == "true":
        return True
    raise _fail(name, raw, "must be true or false", f"pass --{name} true or --{name} false")


def _parse_fraction(name: str, raw: str) -> float:
    if raw.strip() == "":
        return 0.5
    try:
        value = float(raw)
    except ValueError:
        raise _fail(name, raw, "is not a number", f"pass a fraction between 0 and 1, e.g. --{name} 0.5") from None
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise _fail(name, raw, "must be between 0 and 1", f"pass a fraction such as --{name} 0.5")
    return value


def parse_time(raw: str) -> datetime | None:
    """An ISO-8601 time with a zone (e.g. 2025-01-01T00:00:00.000Z), or None when it is not one."""
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    # A time without a zone is ambiguous: comparing it with other exports' times could go either way.
    return value if value.tzinfo is not None else None


def _parse_snapshot_time(raw: str) -> str:
    if parse_time(raw) is None:
        raise _fail(
            "snapshot_time",
            raw,
            "is not an ISO-8601 time with a time zone",
            "pass the source snapshot's time, e.g. --snapshot_time 2025-01-01T00:00:00.000Z",
        )
    return raw.strip()


def _parse_key(raw: str) -> tuple[str, ...]:
    if raw.strip() == "":
        return ()
    parts = [p.strip() for p in raw.split(",")]
    if any(p == "" for p in parts):
        raise _fail("primary_key", raw, "has an empty column name", "pass comma-separated column names, e.g. --primary_key id,region")
    # Exact names only: PostgreSQL may have columns id and "ID", and a key of both is two columns. A key that names
    # one column twice (once by its lake name) is refused once the export's columns are known (loader.resolve_key).
    if len(set(parts)) != len(parts):
        raise _fail("primary_key", raw, "names a column twice", "list each key column once")
    return tuple(parts)


def _check_location(name: str, value: str) -> str:
    value = value.strip()
    if value.startswith("s3://"):
        bucket, _, key = value[5:].partition("/")
        if not bucket:
            raise _fail(name, value, "has no bucket", "pass s3://<bucket>/<prefix>")
        if name == "result_path" and (not key or key.endswith("/")):
            raise _fail(name, value, "is not an object key", "pass the result file's full key, e.g. s3://bucket/results/orders.json")
        return value.rstrip("/") if name != "result_path" else value
    if re.match(r"^[a-z][a-z0-9+.-]*://", value):
        raise _fail(name, value, "uses an unsupported scheme", "pass an s3:// location or a local path")
    if name == "result_path" and value.endswith("/"):
        raise _fail(name, value, "is a directory", "pass the result file's path, e.g. /tmp/results/orders.json")
    return value.rstrip("/") if len(value) > 1 else value


def result_location(value: str) -> str:
    """The --result_path value checked alone, so that a run rejected for another argument can still report."""
    if value.strip() == "":
        raise _fail("result_path", value, "is empty", "pass the result file's location, e.g. s3://bucket/results/orders.json")
    return _check_location("result_path", value)


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
_SECRET_ID = re.compile(r"(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:)?[A-Za-z0-9/_+=.@-]{1,512}")


def _parse_hash_key_source(
    env: str, secret: str, policies: Mapping[str, ColumnPolicy]
) -> tuple[str | None, str | None]:
    """The HMAC key's source: an environment variable name or a Secrets Manager secret id, never the key."""
    if env and secret:
        raise _fail("hash_key_secret", secret, "is given together with --hash_key_env", "pass only one key source")
    if env and not _ENV_NAME.fullmatch(env):
        raise _fail("hash_key_env", env, "is not an environment variable name",
                    "pass the NAME of the variable that holds the key, e.g. --hash_key_env LAKESYNC_HASH_KEY")
    if secret and not _SECRET_ID.fullmatch(secret):
        raise _fail("hash_key_secret", secret, "is not a Secrets Manager secret ARN or name",
                    "pass e.g. --hash_key_secret arn:aws:secretsmanager:<region>:<account>:secret:<name>")
    hashed = [p.column for p in policies.values() if p.hash]
    if hashed and not (env or secret):
        raise InvalidArgument(
            f"--column_policies hashes column(s) {', '.join(repr(c) for c in hashed)} but no key source is given; "
            "pass --hash_key_secret <Secrets Manager secret> (Glue) or --hash_key_env <variable name> (local)"
        )
    return env or None, secret or None


def parse_table_bucket_arn(value: str) -> tuple[str, str, str]:
    """(region, account, bucket) of an S3 Tables bucket ARN."""
    m = TABLE_BUCKET_ARN.fullmatch(value.strip())
    if not m:
        raise _fail(
            "table_bucket_arn",
            value,
            "is not an S3 Tables bucket ARN",
            "pass arn:aws:s3tables:<region>:<12-digit account>:bucket/<bucket name>",
        )
    return m.group(2), m.group(3), m.group(4)


def extract_of(options: Mapping[str, str]) -> str:
    """`export` (the default) or `direct`: which arguments the load requires."""
    raw = str(options.get("extract", "") or "").strip().lower()
    if raw and raw not in EXTRACTS:
        raise _fail("extract", options.get("extract"), "is not an extract", "pass export (the default) or direct")
    return raw or "export"


def source_format_of(options: Mapping[str, str]) -> str:
    """`postgres` (the default) or `dynamodb`: which source the table comes from."""
    raw = str(options.get("source_format", "") or "").strip().lower()
    if raw and raw not in SOURCE_FORMATS:
        raise _fail("source_format", options.get("source_format"), "is not a source format", "pass postgres (the default) or dynamodb")
    return raw or "postgres"


def required_arguments(options: Mapping[str, str], mode: Mode) -> tuple[str, ...]:
    """The arguments a load of this extract cannot do without."""
    if source_format_of(options) == "dynamodb":
        return tuple(n for n in COMMON_REQUIRED if n != "export_path") + DYNAMODB_REQUIRED + MODE_REQUIRED[mode]
    base = DIRECT_REQUIRED if extract_of(options) == "direct" else COMMON_REQUIRED
    return base + MODE_REQUIRED[mode]


SOURCE_NAMES = ("source_database", "source_schema", "source_table")


def name_arg(options: Mapping[str, object], name: str) -> str:
    """A source name as given: PostgreSQL names may begin or end with spaces, and " orders" is not orders."""
    value = options.get(name, "")
    return "" if value is None else str(value)


def parse_job_args(options: Mapping[str, str], mode: Mode) -> JobArgs:
    """Validates raw options (name -> value) into JobArgs; raises InvalidArgument."""
    if mode == "local":
        known = set(COMMON_REQUIRED) | set(COMMON_OPTIONAL) | set(MODE_REQUIRED["local"])
        unknown = sorted(n for n in options if n not in known)
        if unknown:
            raise _fail(unknown[0], options[unknown[0]], "is not an argument of this job", f"use only: {', '.join(sorted(known))}")
    extract = extract_of(options)
    required = required_arguments(options, mode)
    missing = [n for n in required if not str(options.get(n, "")).strip()]
    if extract == "direct" and "cursor_column" in missing:
        missing.remove("cursor_column")  # reported with the reason below, once the other arguments are there
    if missing:
        raise InvalidArgument(
            f"missing argument(s): {', '.join('--' + n for n in missing)}; pass each as '--name value'"
        )

    def get(name: str) -> str:
        return name_arg(options, name) if name in SOURCE_NAMES else str(options.get(name, "")).strip()

    namespace, lake_table = get("namespace"), get("lake_table")
    for name, value, kind in (("namespace", namespace, "namespace"), ("lake_table", lake_table, "table")):
        problem = s3_tables_name_problem(value, kind)
        if problem:
            raise _fail(name, value, problem, f"pass e.g. {suggest_s3_tables_name(value)!r}")
    catalog = get("catalog") or "lake"
    problem = catalog_name_problem(catalog)
    if problem:
        raise _fail("catalog", catalog, problem, "pass e.g. --catalog lake")
    action = get("action").lower()
    if action not in ACTIONS:
        raise _fail("action", get("action"), "is not an action", f"pass one of {', '.join(ACTIONS)}")
    key = _parse_key(str(options.get("primary_key", "")))
    source_format = source_format_of(options)
    if source_format == "dynamodb" and not key:
        key = tuple(k["name"] for k in _dynamodb_key_names(get("dynamodb_key")))
    cursor = get("cursor_column") or None
    raw_mode = get("cursor_mode").lower()
    if raw_mode and raw_mode not in CURSOR_MODES:
        raise _fail("cursor_mode", get("cursor_mode"), "is not a cursor mode", "pass upsert or append (or leave it empty)")
    cursor_mode: str | None = None
    if cursor:
        cursor_mode = raw_mode or ("upsert" if key else "append")
        if cursor_mode == "upsert" and not key:
            raise _fail("cursor_mode", raw_mode, "upsert needs a primary key", "pass --primary_key, or --cursor_mode append")
    # Like the mode, the lookback applies only with a cursor; its type is checked against the column at load time.
    cursor_lookback = parse_lookback(get("cursor_lookback")) if cursor and get("cursor_lookback") else None
    if action == "merge" and not key:
        raise _fail("action", action, "merge needs a primary key", "pass --primary_key <columns>, or use --action replace")
    if action == "incremental" and not cursor and extract != "direct":  # direct: refused with its reason below
        raise _fail("action", action, "incremental needs a cursor column", "pass --cursor_column <column>")
    next_action = get("next_action").lower() or None
    if next_action is not None:
        if action != "create":
            raise _fail("next_action", next_action, f"applies only with --action create (not {action})",
                        "leave --next_action out")
        if next_action not in ("merge", "replace", "incremental"):
            raise _fail("next_action", next_action, "is not the action of a load after a create",
                        "pass merge, replace or incremental (or leave it out)")
        if next_action == "merge" and not key:
            raise _fail("next_action", next_action, "merge needs a primary key", "pass --primary_key <columns>")
        if next_action == "incremental" and not cursor:
            raise _fail("next_action", next_action, "incremental needs a cursor column", "pass --cursor_column <column>")
    for name in ("source_database", "source_schema", "source_table"):
        if "/" in get(name):
            raise _fail(name, get(name), "contains '/'", "pass the name exactly as the export's target lists it")
    policies = parse_column_policies(str(options.get("column_policies", "")), key, cursor)
    hash_key_env, hash_key_secret = _parse_hash_key_source(get("hash_key_env"), get("hash_key_secret"), policies)
    table_bucket_arn = get("table_bucket_arn") or None
    if mode == "glue" and table_bucket_arn:
        parse_table_bucket_arn(table_bucket_arn)
    target = table_label(source_format, get("source_database"), get("source_schema"), get("source_table"))
    dynamodb = None
    if source_format == "dynamodb":
        dynamodb = parse_dynamodb_args(options, action, key, policies, get("export_id"), get("snapshot_time"), target)
    elif any(get(n) for n in ("dynamodb_exports", "dynamodb_key", "dynamodb_attributes")):
        raise InvalidArgument(f"--dynamodb_exports, --dynamodb_key and --dynamodb_attributes apply only to DynamoDB "
                              f"tables (table {target}); pass --source_format dynamodb, or leave them out")
    jdbc = _parse_direct(options, extract, action, cursor, target) if extract == "direct" else None
    if jdbc and cursor:
        check_direct_cursor_type(policies, cursor, target)
    if extract == "export":
        given = [n for n in _DIRECT_ONLY if get(n)]
        if given:
            raise _fail(given[0], "(not shown)" if given[0] == "jdbc_url" else get(given[0]),
                        f"applies only to direct loads (table {target} is loaded from an export)",
                        "pass --extract direct, or leave the JDBC and partition arguments out")
    return JobArgs(
        export_path=_check_location("export_path", get("export_path")) if extract == "export" and not dynamodb else "",
        source_database=get("source_database"),
        source_schema=get("source_schema"),
        source_table=get("source_table"),
        namespace=namespace,
        lake_table=lake_table,
        action=action,
        cycle_id=get("cycle_id"),
        run_token=get("run_token"),
        result_path=_check_location("result_path", get("result_path")),
        source=get("source"),
        export_id=get("export_id"),
        snapshot_time=_parse_snapshot_time(get("snapshot_time")) if extract == "export" else "",
        catalog=catalog,
        primary_key=key,
        cursor_column=cursor,
        cursor_mode=cursor_mode,
        cursor_lookback=cursor_lookback,
        next_action=next_action,
        max_delete_fraction=_parse_fraction("max_delete_fraction", get("max_delete_fraction")),
        approve_deletes=_parse_bool("approve_deletes", get("approve_deletes")),
        allow_older_export=_parse_bool("allow_older_export", get("allow_older_export")),
        show_values=_parse_bool("show_values", get("show_values")),
        column_policies=policies,
        hash_key_env=hash_key_env,
        hash_key_secret=hash_key_secret,
        rebuild=_parse_bool("rebuild", get("rebuild")),
        table_bucket_arn=table_bucket_arn if mode == "glue" else None,
        warehouse=(get("warehouse") or None) if mode == "local" else None,
        extract=extract,
        jdbc=jdbc,
        region=_parse_region(get("region")),
        source_format=source_format,
        dynamodb=dynamodb,
        export_parts=_parse_export_parts(get("export_part_files"), get("export_part_bytes"), extract, dynamodb is not None, target),
    )


def _dynamodb_key_names(raw: str) -> list[dict[str, str]]:
    """The key attributes of --dynamodb_key, for the primary key when --primary_key is left out."""
    import json

    try:
        document = json.loads(raw)
    except json.JSONDecodeError:
        return []  # reported with the fix by parse_dynamodb_args
    return [k for k in document if isinstance(k, dict) and isinstance(k.get("name"), str)] if isinstance(document, list) else []


_DIRECT_ONLY: tuple[str, ...] = (
    "jdbc_url", "jdbc_user", "jdbc_password_env", "jdbc_secret", "jdbc_iam_auth", "partitions", "partition_column",
    "jdbc_ssl_root_cert", "known_partitions",
)
_WHOLE = re.compile(r"[0-9]{1,18}")


def _parse_export_parts(files: str, size: str, extract: str, dynamodb: bool, target: str) -> tuple[int, int] | None:
    """--export_part_files and --export_part_bytes: both or neither, whole numbers, for an RDS export load only."""
    if not files and not size:
        return None
    if extract != "export" or dynamodb:
        name = "export_part_files" if files else "export_part_bytes"
        raise _fail(name, files or size, f"applies only to loads from an RDS export (table {target} is not)",
                    "leave --export_part_files and --export_part_bytes out")
    if not files or not size:
        given, other = ("export_part_files", "export_part_bytes") if files else ("export_part_bytes", "export_part_files")
        raise _fail(given, files or size, f"is given without --{other}", "pass both (the part files discovery saw and their bytes), or neither")
    for name, raw in (("export_part_files", files), ("export_part_bytes", size)):
        if not _WHOLE.fullmatch(raw):
            raise _fail(name, raw, "is not a whole number", f"pass the count discovery found, e.g. --{name} 4")
    return int(files), int(size)


_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


def _parse_region(raw: str) -> str | None:
    if raw and not _REGION.fullmatch(raw):
        raise _fail("region", raw, "is not an AWS region", "pass e.g. --region eu-west-1, or leave it out")
    return raw or None


def table_label(source_format: str, database: str, schema: str, table: str) -> str:
    """How messages name a table: a DynamoDB table has no database, so its key (dynamodb.<Name>) names it."""
    if source_format == "dynamodb":
        return f"{schema}.{table}"
    return f"{database}.{schema}.{table}"


def _parse_direct(options: Mapping[str, str], extract: str, action: str, cursor: str | None, target: str) -> JdbcArgs:
    """The JDBC arguments of a direct load, and the combinations a direct load refuses."""

    def get(name: str) -> str:
        return str(options.get(name, "")).strip()

    if action not in ("create", "incremental"):
        raise _fail("action", action, f"a direct load (table {target}) is create or incremental: it reads a cursor "
                    "window, so it can neither replace the table nor merge deletes",
                    "pass --action incremental (or create), or load the table from an export")
    if not cursor:
        raise InvalidArgument(f"--extract direct: table {target} has no --cursor_column; a direct load reads the "
                              "rows of a cursor window, pass the cursor column (a monotonic id or timestamp)")
    if _parse_bool("rebuild", get("rebuild")):
        raise _fail("rebuild", get("rebuild"), f"a direct load of {target} reads a window, not the whole table",
                    "rebuild the table from an export (extract: export), then switch back to direct")
    return parse_jdbc_args(
        url=get("jdbc_url"),
        user=get("jdbc_user"),
        password_env=get("jdbc_password_env"),
        secret=get("jdbc_secret"),
        iam_auth=_parse_bool("jdbc_iam_auth", get("jdbc_iam_auth")),
        partitions=get("partitions"),
        partition_column=get("partition_column"),
        target=target,
        ssl_root_cert=get("jdbc_ssl_root_cert"),
        known_partitions=get("known_partitions"),
    )
