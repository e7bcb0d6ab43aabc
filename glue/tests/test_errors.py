"""Error classes: each says whether a retry can help, and every failed result JSON carries it."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import make_args
from lakesync_glue import errors, loader
from lakesync_glue.cli import report_early_failure
from lakesync_glue.errors import ERROR_CLASSES, LOAD_ERRORS, InvalidArgument, LoadError
from lakesync_glue.loader import run_load
from lakesync_glue.result import utc_now

# The contract: the workflow retries a failed table only when its result says retryable.
RETRYABLE = {
    "InvalidArgument": False,
    "ExportNotFound": False,
    "CastError": False,
    "NameCollision": False,
    "DuplicateKeys": False,
    "SchemaConflict": False,
    "DeleteGuard": False,
    "EmptyExport": False,
    "OlderExport": False,
    "OtherSource": False,
    "SourceRewritten": False,
    "CommitConflict": True,
    "InternalError": True,
}


class NoSpark:
    """Stands in for a SparkSession in loads that must fail before touching Spark."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the load touched Spark ({name})")


@pytest.mark.parametrize("name", list(RETRYABLE))
def test_each_class_declares_whether_a_retry_can_help(name: str) -> None:
    cls = getattr(errors, name)
    assert issubclass(cls, LoadError) and cls.error_class == name
    assert cls.retryable is RETRYABLE[name]
    assert cls("boom").to_result_error() == {"class": name, "message": "boom", "retryable": RETRYABLE[name]}


def test_error_classes_lists_every_class_once() -> None:
    assert ERROR_CLASSES == tuple(RETRYABLE)
    assert set(LOAD_ERRORS) == set(LoadError.__subclasses__())


@pytest.mark.parametrize("name,base", [("AttributeTypeMismatch", "CastError"), ("DeclaredAttributeMissing", "InvalidArgument")])
def test_the_dynamodb_classes_refine_a_class_and_name_themselves(name: str, base: str) -> None:
    cls = getattr(errors, name)
    assert cls in errors.DYNAMODB_ERRORS and issubclass(cls, getattr(errors, base))
    assert cls("boom").to_result_error() == {"class": name, "message": "boom", "retryable": False}


def test_a_plain_load_error_reports_as_a_retryable_internal_error() -> None:
    assert LoadError("boom").to_result_error() == {"class": "InternalError", "message": "boom", "retryable": True}


def test_an_early_failure_writes_the_flag_to_the_result_json(tmp_path: Path) -> None:
    result_path = tmp_path / "early.json"
    options = {"source_database": "shop", "source_schema": "public", "source_table": "items",
               "result_path": str(result_path)}
    report_early_failure(options, InvalidArgument("--action 'upsert': use merge"), utc_now())
    written = json.loads(result_path.read_text())
    assert written["status"] == "failed"
    assert written["error"] == {"class": "InvalidArgument", "message": "--action 'upsert': use merge", "retryable": False}


def test_a_refused_load_writes_retryable_false(tmp_path: Path) -> None:
    result_path = tmp_path / "missing.json"
    args = make_args(str(tmp_path / "no-export"), "shop.public.items", "items", str(result_path), str(tmp_path / "wh"),
                     primary_key="id")
    result = run_load(NoSpark(), args)  # type: ignore[arg-type]
    assert result.error is not None
    assert (result.error["class"], result.error["retryable"]) == ("ExportNotFound", False)
    assert json.loads(result_path.read_text())["error"] == result.error


def test_an_unexpected_failure_writes_a_retryable_internal_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(_args: Any) -> Any:
        raise RuntimeError("executor lost")

    monkeypatch.setattr(loader, "find_table_export", crash)
    result_path = tmp_path / "crash.json"
    args = make_args(str(tmp_path / "export"), "shop.public.items", "items", str(result_path), str(tmp_path / "wh"),
                     primary_key="id")
    result = run_load(NoSpark(), args)  # type: ignore[arg-type]
    assert result.error is not None
    assert (result.error["class"], result.error["retryable"]) == ("InternalError", True)
    assert "RuntimeError: executor lost" in result.error["message"]
    assert json.loads(result_path.read_text())["error"] == result.error


def test_a_message_too_long_to_carry_is_cut_and_says_how_long_it_was() -> None:
    from lakesync_glue.errors import MAX_MESSAGE_CHARS, InternalError
    long = InternalError("x" * 1_000_000).to_result_error()["message"]
    assert long.startswith("x" * MAX_MESSAGE_CHARS) and long.endswith("... (1000000 characters in all)")
    assert len(long) < MAX_MESSAGE_CHARS + 100
    assert InternalError("short").to_result_error()["message"] == "short"
