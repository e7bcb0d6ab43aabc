"""Error classes of the load job.

Each class declares whether a retry of the load can help (`retryable`); the result JSON
carries that flag and the TypeScript side retries a failed table only when it is true.
The class names are part of the contract too (messages, failure types): keep them exactly
as they are.
"""
from __future__ import annotations

from typing import TypedDict

# The result JSON's `error` object ("class" is a keyword, hence the functional form).
ResultError = TypedDict("ResultError", {"class": str, "message": str, "retryable": bool})

# The message travels in the result JSON, the workflow history and the CLI: a message this long
# (a quoted value, a parser's dump) is cut, so that no failure can outgrow what Temporal carries.
MAX_MESSAGE_CHARS = 16_000


def clipped(text: str, limit: int) -> str:
    """`text`, or its first `limit` characters and how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters in all)"


class LoadError(Exception):
    """A failure with a class name the result JSON reports."""

    error_class: str = "InternalError"
    # Whether a retry of the load can help: only for transient failures, as anything else
    # fails the same way again. The base reports as InternalError, so it shares its flag.
    retryable: bool = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_result_error(self) -> ResultError:
        return {"class": self.error_class, "message": clipped(self.message, MAX_MESSAGE_CHARS), "retryable": self.retryable}


class InvalidArgument(LoadError):
    error_class = "InvalidArgument"
    retryable = False


class ExportNotFound(LoadError):
    error_class = "ExportNotFound"
    retryable = False


class CastError(LoadError):
    error_class = "CastError"
    retryable = False


class NameCollision(LoadError):
    error_class = "NameCollision"
    retryable = False


class DuplicateKeys(LoadError):
    error_class = "DuplicateKeys"
    retryable = False


class SchemaConflict(LoadError):
    error_class = "SchemaConflict"
    retryable = False


class DeleteGuard(LoadError):
    error_class = "DeleteGuard"
    retryable = False


class SourceRewritten(LoadError):
    """A direct table's source lost rows a window had read (truncated and refilled, or rows deleted):
    the lake no longer follows the source and windows would load the refill wrong; the table is rebuilt."""

    error_class = "SourceRewritten"
    retryable = False


class EmptyExport(LoadError):
    error_class = "EmptyExport"
    retryable = False


class OlderExport(LoadError):
    """The lake table already holds a newer export: loading this one would move it back in time."""

    error_class = "OlderExport"
    retryable = False


class OtherSource(LoadError):
    """The lake table holds another source's rows (or another table's of this source): loading this one would
    overwrite or delete them."""

    error_class = "OtherSource"
    retryable = False


class CommitConflict(LoadError):
    error_class = "CommitConflict"
    retryable = True  # a concurrent commit (e.g. S3 Tables compaction) may be gone next time


class InternalError(LoadError):
    error_class = "InternalError"
    retryable = True  # e.g. a crashed executor or a lost node


class AttributeTypeMismatch(CastError):
    """DynamoDB: a key or declared attribute holds a value its lake type cannot hold exactly."""

    error_class = "AttributeTypeMismatch"
    retryable = False


class DeclaredAttributeMissing(InvalidArgument):
    """DynamoDB: a declared attribute is in no item of a FULL export (names are case-sensitive)."""

    error_class = "DeclaredAttributeMissing"
    retryable = False


# The DynamoDB classes refine CastError and InvalidArgument (same handling, their own class name).
DYNAMODB_ERRORS: tuple[type[LoadError], ...] = (AttributeTypeMismatch, DeclaredAttributeMissing)

LOAD_ERRORS: tuple[type[LoadError], ...] = (
    InvalidArgument,
    ExportNotFound,
    CastError,
    NameCollision,
    DuplicateKeys,
    SchemaConflict,
    DeleteGuard,
    EmptyExport,
    OlderExport,
    OtherSource,
    SourceRewritten,
    CommitConflict,
    InternalError,
)

ERROR_CLASSES: tuple[str, ...] = tuple(cls.error_class for cls in LOAD_ERRORS)
