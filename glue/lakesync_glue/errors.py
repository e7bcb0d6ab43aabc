"""Error classes of the load job.

The class names are part of the contract with the TypeScript side, which decides
whether to retry a failed table from them; keep them exactly as they are.
"""
from __future__ import annotations


class LoadError(Exception):
    """A failure with a class name the result JSON reports."""

    error_class: str = "InternalError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(LoadError):
    error_class = "InvalidArgument"


class ExportNotFound(LoadError):
    error_class = "ExportNotFound"


class CastError(LoadError):
    error_class = "CastError"


class NameCollision(LoadError):
    error_class = "NameCollision"


class DuplicateKeys(LoadError):
    error_class = "DuplicateKeys"


class SchemaConflict(LoadError):
    error_class = "SchemaConflict"


class DeleteGuard(LoadError):
    error_class = "DeleteGuard"


class EmptyExport(LoadError):
    error_class = "EmptyExport"


class CommitConflict(LoadError):
    error_class = "CommitConflict"


class InternalError(LoadError):
    error_class = "InternalError"


ERROR_CLASSES: tuple[str, ...] = (
    "InvalidArgument",
    "ExportNotFound",
    "CastError",
    "NameCollision",
    "DuplicateKeys",
    "SchemaConflict",
    "DeleteGuard",
    "EmptyExport",
    "CommitConflict",
    "InternalError",
)
