"""Hashed columns: lowercase hex HMAC-SHA256(key, UTF-8 of the value's canonical text).

The canonical text is the value as the export holds it: the exported string itself for the
columns RDS writes as text, and PostgreSQL's text output for the native ones (integers as
digits, booleans as true/false, bytea as \\x<hex>, floats in PostgreSQL's shortest form).
NULL stays NULL; equal values give equal hashes under one key, so hashed columns still join.
The key comes from an environment variable (local runner) or a Secrets Manager secret (Glue),
never from the job arguments.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .args import JobArgs
from .errors import InternalError, InvalidArgument
from .names import quote
from .secrets import secret_string
from .pgtext import hmac_hex, pg_float_text, shipped_by_value

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

def read_secret_key(secret_id: str, args: JobArgs) -> bytes:
    """The SecretString of a Secrets Manager secret (GetSecretValue), as UTF-8 bytes."""
    where = f"table {args.target}: --hash_key_secret {secret_id!r}"
    text = secret_string(secret_id, where, args)
    if not text:
        raise InvalidArgument(
            f"{where}: the secret has no SecretString (a binary secret cannot be used); store the key as a text secret"
        )
    return str(text).encode("utf-8")


def resolve_hash_key(args: JobArgs) -> bytes | None:
    """The HMAC key when a column is hashed; None otherwise. Never logged, never in the result."""
    if not any(p.hash for p in args.column_policies.values()):
        return None
    if args.hash_key_env:
        value = os.environ.get(args.hash_key_env, "")
        if not value:
            raise InvalidArgument(
                f"table {args.target}: --hash_key_env {args.hash_key_env!r}: the variable is not set or empty in the "
                "load's environment; set it where the local runner starts (lakesync reads the key from it)"
            )
        return value.encode("utf-8")
    if args.hash_key_secret:
        return read_secret_key(args.hash_key_secret, args)
    raise InvalidArgument(f"table {args.target}: hashed columns need --hash_key_secret or --hash_key_env")


def canonical_text(column: str, raw_type: str) -> "Column":
    """The exported value as text (PostgreSQL's output for the natively exported types)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    col = F.col(quote(column))
    if raw_type == "string":
        return col
    if raw_type == "binary":
        return F.concat(F.lit("\\x"), F.lower(F.hex(col)))
    if raw_type in ("double", "float"):
        digits = 6 if raw_type == "float" else 15
        shipped_by_value()
        return F.udf(lambda v: None if v is None else pg_float_text(float(v), digits), StringType())(col)
    return col.cast("string")  # integers as digits, booleans as true/false


def hash_columns(raw: "DataFrame", columns: dict[str, str], key: bytes) -> "DataFrame":
    """Replaces each column (name -> exported Spark type) by the HMAC of its canonical text."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    # A plain Python UDF (no pandas needed); the key travels in the UDF's closure, not in any SQL text.
    shipped_by_value()
    digest = F.udf(lambda text: None if text is None else hmac_hex(key, text), StringType())
    for name, raw_type in columns.items():
        raw = raw.withColumn(name, digest(canonical_text(name, raw_type)))
    return raw
