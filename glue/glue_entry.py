"""AWS Glue 5.0 entry of the lakesync load job; the only file that imports awsglue.

Glue passes the job arguments as `--name value`. The Iceberg catalog for the S3 Tables
bucket is configured on the SparkConf before the SparkContext starts (Iceberg's Spark
settings are static), then the plain-PySpark core does the load. Deploy the
`lakesync_glue` package zipped in --extra-py-files next to this script.
"""
from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from lakesync_glue.args import (
    COMMON_OPTIONAL,
    COMMON_REQUIRED,
    MODE_REQUIRED,
    JobArgs,
    parse_job_args,
    required_arguments,
    result_location,
)
from lakesync_glue import storage
from lakesync_glue.cli import log, report_early_failure, setup_logging
from lakesync_glue.errors import InternalError, InvalidArgument, LoadError
from lakesync_glue.pack import PACK_ARGUMENTS
from lakesync_glue.result import utc_now
from lakesync_glue.session import glue_spark_conf

REQUIRED: tuple[str, ...] = COMMON_REQUIRED + MODE_REQUIRED["glue"]
OPTIONAL: tuple[str, ...] = COMMON_OPTIONAL + ("JOB_NAME",)

Resolver = Callable[[Sequence[str], list[str]], dict[str, Any]]


def _given(argv: Sequence[str], name: str) -> bool:
    """Whether the run gives --name: as an argument, not as the value of another (a table named "--name")."""
    flag = f"--{name}"
    return any(a == flag or a.startswith(flag + "=") for a in dash_values_joined(argv))


def parser_problem(message: str) -> InvalidArgument:
    """An InvalidArgument naming the argument and the fix, from Glue's (argparse) parser message."""
    required = re.fullmatch(r"the following arguments are required: (.+)", message)
    if required:
        return InvalidArgument(f"missing argument(s): {required.group(1)}; set them in the job run's Arguments")
    no_value = re.fullmatch(r"argument (--\S+?)(?:/\S+)?: expected one argument", message)
    if no_value:
        flag = no_value.group(1)
        return InvalidArgument(
            f"{flag} was given without a value; pass '{flag} <value>', or leave {flag} out when it has none"
        )
    named = re.match(r"argument (--\S+?)(?:/\S+)?: (.+)", message)
    if named:
        return InvalidArgument(f"{named.group(1)}: {named.group(2)}; fix {named.group(1)} in the job run's Arguments")
    return InvalidArgument(f"the job arguments could not be parsed ({message}); pass each as '--name value'")


def resolve_options(
    argv: Sequence[str], resolver: Resolver, parser_errors: tuple[type[BaseException], ...] = (SystemExit,)
) -> dict[str, str]:
    """Job arguments through Glue's getResolvedOptions; optional ones only when given.

    A direct load (--extract direct) has no export arguments, and JDBC ones instead.
    """
    return _resolve(argv, resolver, required_arguments(raw_options(argv), "glue"), OPTIONAL, parser_errors, "")


def _resolve(
    argv: Sequence[str],
    resolver: Resolver,
    required: Sequence[str],
    optional: Sequence[str],
    parser_errors: tuple[type[BaseException], ...],
    of_what: str,
) -> dict[str, str]:
    """The required and the given optional arguments through getResolvedOptions.

    getResolvedOptions fails on any listed name that is absent, so missing required
    arguments are reported here first, with the names, instead of its usage text. Its
    parser raises GlueArgumentError (not SystemExit): the caller passes the classes to
    turn into InvalidArgument. of_what names the kind of run in the messages.
    """
    missing = [n for n in required if not _given(argv, n)]
    if missing:
        raise InvalidArgument(
            f"missing argument(s){of_what}: {', '.join('--' + n for n in missing)}; set them in the job run's Arguments"
        )
    names = list(required) + [n for n in optional if n not in required and _given(argv, n)]
    try:
        resolved = resolver(dash_values_joined(argv), names)
    except parser_errors as exc:
        raise parser_problem(str(exc)) from None
    options = {k: "" if v is None else str(v) for k, v in resolved.items()}
    # argparse drops a value that is exactly "--" (its end-of-options marker) even after "=": a schema may be named so.
    options.update({k: v for k, v in raw_options(argv).items() if v == "--" and k in options})
    empty = [n for n in required if not options.get(n, "").strip()]
    if empty:
        raise InvalidArgument(
            f"empty argument(s){of_what}: {', '.join('--' + n for n in empty)}; give each a value in the job run's Arguments"
        )
    return options


def dash_values_joined(argv: Sequence[str]) -> list[str]:
    """`--name -value` as `--name=-value`: Glue passes each argument as `--name value`, and its
    parser (argparse) takes a value that starts with a dash (a table or column named "-orders" or
    "--orders") for a flag and fails the run with "expected one argument".

    A value that starts with two dashes is joined only after one of this job's arguments (lakesync
    never passes one of them empty), and only when it is not itself a flag: one of this job's
    arguments, or one of Glue's own (JOB_ID, TempDir, job-bookmark-option: a capital letter or a
    hyphen in the name, which no lakesync argument has). A value named exactly like a flag (a
    table or column named "--cycle_id") is still a value: see _value_named_like_a_flag.
    """
    out: list[str] = []
    for i, token in enumerate(argv):
        previous = out[-1] if out else ""
        is_flag = previous.startswith("--") and len(previous) > 2 and "=" not in previous
        if is_flag and token.startswith("-") and (
            not token.startswith("--")
            or (previous[2:] in JOB_ARGUMENTS and (not _is_flag(token) or _value_named_like_a_flag(argv, i, previous[2:])))
        ):
            out[-1] = f"{previous}={token}"
        else:
            out.append(token)
    return out


def _value_named_like_a_flag(argv: Sequence[str], i: int, owner: str) -> bool:
    """Whether argv[i], named like a flag and right after this job's argument `owner`, is owner's value.

    A run's arguments are a map: Glue passes each one once, and lakesync never passes one of them
    empty. So it is a value when it names `owner` itself, when the flag it names is given elsewhere
    in the run too, or when, taken for a flag, it would have no value either (the next token is a
    flag, or there is none). Otherwise it is a flag and `owner` lost its value (Glue drops "").
    """
    token = argv[i]
    name = _flag_name(token)
    if name == owner:
        return True
    if any(j != i and a.startswith("--") and _flag_name(a) == name for j, a in enumerate(argv)):
        return True
    if "=" in token:
        return False
    return i + 1 >= len(argv) or _is_flag(argv[i + 1])


def _flag_name(token: str) -> str:
    return token[2:].split("=", 1)[0]


# Every argument this job takes: after one of them the next token is its value (lakesync never passes one empty).
JOB_ARGUMENTS: frozenset[str] = frozenset(REQUIRED + OPTIONAL + PACK_ARGUMENTS)


def _is_flag(token: str) -> bool:
    """`--<name>` of this job's, or of Glue's own (capital letters or hyphens: JOB_ID, TempDir, enable-metrics)."""
    if not token.startswith("--"):
        return False
    name = _flag_name(token)
    return name in JOB_ARGUMENTS or (name != "" and (name != name.lower() or "-" in name))


def parse_glue_args(
    argv: Sequence[str], resolver: Resolver, parser_errors: tuple[type[BaseException], ...] = (SystemExit,)
) -> tuple[JobArgs, dict[str, str]]:
    options = resolve_options(argv, resolver, parser_errors)
    return parse_job_args({k: v for k, v in options.items() if k != "JOB_NAME"}, "glue"), options


def spark_conf(args: JobArgs) -> dict[str, str]:
    """The Spark conf the job starts with: Iceberg over the S3 Tables bucket via the Glue catalog."""
    return glue_spark_conf(args.catalog, args.table_bucket_arn or "")


def raw_options(argv: Sequence[str]) -> dict[str, str]:
    """Best-effort `--name value` / `--name=value` pairs, to report a failure when parsing itself failed."""
    out: dict[str, str] = {}
    argv = dash_values_joined(argv)
    for i, token in enumerate(argv):
        if not token.startswith("--") or len(token) == 2:
            continue
        if "=" in token:
            name, value = token[2:].split("=", 1)
            out[name] = value
        elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            out[token[2:]] = argv[i + 1]
    return out


def failure_options(argv: Sequence[str]) -> dict[str, str]:
    """raw_options, keeping result_path only when it is a usable result location."""
    options = raw_options(argv)
    if "result_path" in options:
        try:
            options["result_path"] = result_location(options["result_path"])
        except InvalidArgument:
            del options["result_path"]
    return options


def with_arguments_file(argv: Sequence[str]) -> list[str]:
    """The run's arguments with those of its arguments file (--arguments_path) in its place.

    lakesync passes a value too long for a job run's arguments (the column policies of a wide
    table, a DynamoDB table's exports) in a JSON object of name to value on S3 instead; each
    becomes `--name=value`, so it is read exactly as an argument of the run would be.
    """
    argv = list(argv)
    path = raw_options(argv).get("arguments_path")
    if path is None:
        return argv
    # The argument itself, not a value named like it (a table named "--arguments_path").
    argv = dash_values_joined(argv)
    i = next(i for i, a in enumerate(argv) if a == "--arguments_path" or a.startswith("--arguments_path="))
    rest = argv[:i] + argv[i + (1 if "=" in argv[i] else 2):]
    fix = "start the load again (lakesync writes the arguments file before the run)"
    try:
        document = json.loads(storage.read_text(path.strip()))
    except Exception as exc:  # noqa: BLE001 - missing file, no access, not JSON: the load cannot run either way
        raise InvalidArgument(f"--arguments_path {path!r}: the arguments file could not be read ({type(exc).__name__}: {exc}); {fix}") from None
    if not isinstance(document, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in document.items()):
        raise InvalidArgument(f"--arguments_path {path!r}: the arguments file is not a JSON object of argument names to text values; {fix}")
    given = sorted(name for name in document if _given(rest, name))
    if given:
        raise InvalidArgument(f"--arguments_path {path!r}: the arguments file gives {', '.join('--' + n for n in given)}, "
                              f"which the run's arguments give too; pass each argument once")
    return rest + [f"--{name}={value}" for name, value in document.items()]


def is_pack_run(argv: Sequence[str]) -> bool:
    """A pack run (--pack_path) loads the tables its pack file lists instead of one named by arguments."""
    return _given(argv, "pack_path")


def resolve_pack_options(
    argv: Sequence[str], resolver: Resolver, parser_errors: tuple[type[BaseException], ...] = (SystemExit,)
) -> dict[str, str]:
    """--pack_path and --run_token through getResolvedOptions (JOB_NAME when given)."""
    return _resolve(argv, resolver, PACK_ARGUMENTS, ("JOB_NAME",), parser_errors, " of a pack run")


def pack_main(argv: Sequence[str]) -> int:
    """A pack run: every table of the pack file in one Spark session; 0 once the summary is written.

    A table's failure is in its own result and in the summary, not in the exit code: the run fails
    only when the pack itself could not run (bad pack file, no Spark).
    """
    from lakesync_glue.pack import first_lake, read_pack, run_pack

    try:
        from awsglue.utils import GlueArgumentError, getResolvedOptions  # Glue runtime only

        options = resolve_pack_options(argv, getResolvedOptions, (GlueArgumentError, SystemExit))
        pack = read_pack(options["pack_path"], options["run_token"])
    except LoadError as exc:
        log.error("%s: %s", exc.error_class, exc.message)
        return 2
    lake = first_lake(pack, "glue")
    spark = None
    job = None
    if lake is not None:
        from awsglue.context import GlueContext
        from awsglue.job import Job
        from pyspark.conf import SparkConf
        from pyspark.context import SparkContext

        try:
            conf = SparkConf().setAll(list(glue_spark_conf(lake[0], lake[1]).items()))
            glue_context = GlueContext(SparkContext.getOrCreate(conf=conf))
            job = Job(glue_context)
            job.init(options.get("JOB_NAME") or "lakesync-load", options)
            spark = glue_context.spark_session
        except Exception as exc:  # noqa: BLE001 - no Spark, no pack: the tables keep no result
            log.error("pack %s: could not start Spark: %s", pack.pack_token, exc)
            return 1
    # Without a table whose arguments parse there is nothing for Spark to do: each table reports why.
    run_pack(spark, pack, "glue", lake or ("", ""))
    if job is not None:
        job.commit()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    setup_logging()
    started = utc_now()
    argv = list(sys.argv if argv is None else argv)
    if is_pack_run(argv):
        return pack_main(argv)
    try:
        from awsglue.utils import GlueArgumentError, getResolvedOptions  # Glue runtime only

        argv = with_arguments_file(argv)
        args, options = parse_glue_args(argv, getResolvedOptions, (GlueArgumentError, SystemExit))
    except LoadError as exc:
        report_early_failure(failure_options(argv), exc, started)
        return 2
    except Exception as exc:  # noqa: BLE001 - whatever stopped the parsing, the result says so
        error = InternalError(f"the job arguments could not be resolved: {exc}")
        report_early_failure(failure_options(argv), error, started)
        return 1

    from awsglue.context import GlueContext
    from awsglue.job import Job
    from pyspark.conf import SparkConf
    from pyspark.context import SparkContext

    from lakesync_glue.loader import run_load

    try:
        conf = SparkConf().setAll(list(spark_conf(args).items()))
        glue_context = GlueContext(SparkContext.getOrCreate(conf=conf))
        job = Job(glue_context)
        job.init(options.get("JOB_NAME") or "lakesync-load", options)
    except Exception as exc:  # noqa: BLE001 - no Spark, no load: still report it
        error = InternalError(f"table {args.target}: could not start Spark: {exc}")
        report_early_failure(options, error, started)
        return 1
    result = run_load(glue_context.spark_session, args)
    if result.succeeded:
        job.commit()
        return 0
    return 1


if __name__ == "__main__":
    code = main()
    if code:
        sys.exit(code)
