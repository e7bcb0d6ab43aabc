"""lakesync Glue job core: one table of an RDS snapshot export into an Iceberg table.

Plain PySpark (no awsglue): the Glue entry (glue_entry.py), the local entry
(local_entry.py) and the embedded mode all call `run_load` on a SparkSession.
"""
from __future__ import annotations

from .args import JobArgs, parse_job_args, split_argv
from .errors import ERROR_CLASSES, LoadError
from .loader import run_load
from .query import run_query
from .result import LoadResult
from .session import build_local_spark, glue_spark_conf, local_spark_conf

__all__ = [
    "ERROR_CLASSES",
    "JobArgs",
    "LoadError",
    "LoadResult",
    "build_local_spark",
    "glue_spark_conf",
    "local_spark_conf",
    "parse_job_args",
    "run_load",
    "run_query",
    "split_argv",
]
