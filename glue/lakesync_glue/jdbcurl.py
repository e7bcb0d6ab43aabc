"""The JDBC arguments of a direct load: the URL (never with credentials), the user, one password source.

Pure: no Spark, no AWS. Job arguments may be logged, so a URL that carries a user or a password
is refused, and the refusal does not repeat the URL.
"""
from __future__ import annotations

import json

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from .errors import InvalidArgument

MAX_PARTITIONS = 256
# jdbc:postgresql://host[:port][,host2[:port]]/database[?key=value&...]
_URL = re.compile(r"jdbc:postgresql://(?P<authority>[^/?#]*)/(?P<database>[^?#]*)(?:\?(?P<query>[^#]*))?")
_HOST = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(?P<port>\d{1,5}))?")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
_SECRET_ID = re.compile(r"(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:)?[A-Za-z0-9/_+=.@-]{1,512}")
_COLUMN = re.compile(r"[^\x00]{1,63}")
# s3://bucket/key of the PEM bundle that verify-ca/verify-full check the server against (public, not a secret).
_S3_OBJECT = re.compile(r"s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>[^\x00]{1,1024})")
# sslmodes under which pgJDBC checks the server's certificate against sslrootcert.
VERIFYING_SSLMODES = ("verify-ca", "verify-full")
# URL parameters that carry credentials; pgjdbc reads `user` and `password` from the URL too.
_CREDENTIAL_PARAMS = ("user", "password", "sslpassword", "sslkey")
# URL parameters that would override the read-only session the job opens (a URL parameter wins over a property).
_READ_ONLY_PARAMS = ("readonly", "readonlymode")


@dataclass(frozen=True)
class JdbcArgs:
    """How a direct load reaches the source: secrets only by reference (a variable, a secret, IAM)."""

    url: str
    user: str  # empty only with a secret, whose username is then used
    host: str
    port: int
    database: str
    password_env: str | None = None
    secret: str | None = None
    iam_auth: bool = False
    partitions: int | None = None  # None: derived from the window's row estimate (direct.py)
    partition_column: str | None = None
    ssl_root_cert: str | None = None  # s3://bucket/key of the CA bundle for verify-ca/verify-full
    # The partitions the plan checked against the exclude rules (None: no exclude rule, nothing to check).
    known_partitions: tuple[str, ...] | None = None

    @property
    def sslmode(self) -> str | None:
        """The URL's sslmode (lower case), if it sets one."""
        query = self.url.split("?", 1)[1] if "?" in self.url else ""
        modes = [v.strip().lower() for k, v in parse_qsl(query, keep_blank_values=True) if k.lower() == "sslmode"]
        return modes[-1] if modes else None

    @property
    def verifies_server(self) -> bool:
        """True when pgJDBC checks the server's certificate chain (and needs a root certificate)."""
        return self.sslmode in VERIFYING_SSLMODES

    @property
    def address(self) -> str:
        """host:port/database, for messages (never the user or a password)."""
        return f"{self.host}:{self.port}/{self.database}"


def _refuse(name: str, problem: str, fix: str, value: str | None = None) -> InvalidArgument:
    shown = f" {value!r}" if value is not None else ""
    return InvalidArgument(f"--{name}{shown}: {problem}; {fix}")


def parse_url(url: str, target: str) -> tuple[str, int, str]:
    """(host, port, database) of a jdbc:postgresql URL; refuses one that carries credentials."""
    m = _URL.fullmatch(url)
    if not m:
        # The value is not shown: a malformed URL may still hold a password.
        raise _refuse("jdbc_url", f"(table {target}) is not a PostgreSQL JDBC URL",
                      "pass jdbc:postgresql://<host>:<port>/<database>[?sslmode=require]")
    authority, database, query = m.group("authority"), m.group("database"), m.group("query") or ""
    params = [k.lower() for k, _ in parse_qsl(query, keep_blank_values=True)]
    if "@" in authority or any(k in _CREDENTIAL_PARAMS for k in params):
        raise _refuse("jdbc_url", f"(table {target}) carries credentials (a user or password in the URL); job "
                      "arguments may be logged, so the URL is not shown",
                      "pass the URL without them, the user as --jdbc_user and the password by reference "
                      "(--jdbc_secret, --jdbc_password_env or --jdbc_iam_auth true)")
    overriding = [k for k, _ in parse_qsl(query, keep_blank_values=True) if k.lower() in _READ_ONLY_PARAMS]
    if overriding:
        raise _refuse("jdbc_url", f"(table {target}) sets {', '.join(overriding)}: a direct load opens read-only "
                      "sessions, and the URL would override that", f"remove {', '.join(overriding)} from the URL")
    first = authority.split(",", 1)[0]
    host_match = _HOST.fullmatch(first)
    if not host_match or not database:
        raise _refuse("jdbc_url", f"(table {target}) names no host or no database",
                      "pass jdbc:postgresql://<host>:<port>/<database>")
    port = int(host_match.group("port") or 5432)
    if not 0 < port < 65536:
        raise _refuse("jdbc_url", f"(table {target}) has port {port}, outside 1..65535", "pass the source's port")
    return host_match.group("host").strip("[]"), port, database


def parse_partitions(raw: str, target: str) -> int | None:
    if not raw:
        return None
    if not re.fullmatch(r"\d{1,4}", raw) or not 1 <= int(raw) <= MAX_PARTITIONS:
        raise _refuse("partitions", f"table {target} is read in 1..{MAX_PARTITIONS} partitions",
                      f"pass a number from 1 to {MAX_PARTITIONS}, or leave it out for the default "
                      "(derived from the window's row estimate)", raw)
    return int(raw)


def split_s3_object(uri: str) -> tuple[str, str] | None:
    """(bucket, key) of an s3://bucket/key URI, or None."""
    m = _S3_OBJECT.fullmatch(uri)
    return (m.group("bucket"), m.group("key")) if m else None


def parse_jdbc_args(*, url: str, user: str, password_env: str, secret: str, iam_auth: bool, partitions: str,
                    partition_column: str, target: str, ssl_root_cert: str = "",
                    known_partitions: str = "") -> JdbcArgs:
    host, port, database = parse_url(url, target)
    if not user and not secret:
        raise _refuse("jdbc_user", f"table {target} is read over JDBC without a user",
                      "pass --jdbc_user <name>, or --jdbc_secret with a secret whose JSON has a \"username\"")
    sources = [n for n, given in (("jdbc_password_env", bool(password_env)), ("jdbc_secret", bool(secret)),
                                  ("jdbc_iam_auth", iam_auth)) if given]
    if len(sources) > 1:
        raise InvalidArgument(
            f"{' and '.join('--' + n for n in sources)}: table {target} has {len(sources)} password sources; "
            "pass exactly one of --jdbc_password_env, --jdbc_secret or --jdbc_iam_auth true"
        )
    if not sources:
        raise InvalidArgument(
            f"--extract direct: table {target} has no password source; pass exactly one of --jdbc_secret "
            "<Secrets Manager secret> or --jdbc_iam_auth true (AWS), or --jdbc_password_env <variable name> (local)"
        )
    if password_env and not _ENV_NAME.fullmatch(password_env):
        raise _refuse("jdbc_password_env", "is not an environment variable name",
                      "pass the NAME of the variable that holds the password, never the password", password_env)
    if secret and not _SECRET_ID.fullmatch(secret):
        raise _refuse("jdbc_secret", "is not a Secrets Manager secret ARN or name",
                      "pass e.g. --jdbc_secret arn:aws:secretsmanager:<region>:<account>:secret:<name>")
    if ssl_root_cert and not split_s3_object(ssl_root_cert):
        raise _refuse("jdbc_ssl_root_cert", f"(table {target}) is not an S3 object URI",
                      "pass s3://<bucket>/<key> of the PEM bundle of the database's certificate authorities "
                      "(for RDS, https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem)", ssl_root_cert)
    if partition_column and not _COLUMN.fullmatch(partition_column):
        raise _refuse("partition_column", "is not a column name", "pass a column of the source table", partition_column)
    return JdbcArgs(
        url=url,
        user=user,
        host=host,
        port=port,
        database=database,
        password_env=password_env or None,
        secret=secret or None,
        iam_auth=iam_auth,
        partitions=parse_partitions(partitions, target),
        partition_column=partition_column or None,
        ssl_root_cert=ssl_root_cert or None,
        known_partitions=parse_known_partitions(known_partitions, target),
    )


def parse_known_partitions(raw: str, target: str) -> tuple[str, ...] | None:
    """--known_partitions: a JSON list of schema.table names (absent: no exclude rule to check partitions against)."""
    if not raw:
        return None
    try:
        document = json.loads(raw)
    except ValueError:
        document = None
    if not isinstance(document, list) or not all(isinstance(n, str) and "." in n for n in document):
        raise _refuse("known_partitions", f"(table {target}) is not a JSON list of schema.table names",
                      'pass e.g. ["public.events_2024", "public.events_2025"], or [] for none', raw)
    return tuple(document)
