"""Small file access over local paths and s3:// URIs (export files, result JSON)."""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol


class ByteStream(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int


def is_s3(path: str) -> bool:
    return path.startswith("s3://")


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


def join(root: str, *parts: str) -> str:
    if is_s3(root):
        return "/".join([root.rstrip("/"), *(p.strip("/") for p in parts)])
    return os.path.join(root, *parts)


@lru_cache(maxsize=1)
def _s3() -> Any:
    import boto3  # imported lazily: local runs never need it

    return boto3.client("s3")


def reset_clients() -> None:
    """Forget the cached S3 client (tests switch endpoints/credentials)."""
    _s3.cache_clear()


def list_files(root: str) -> list[FileEntry]:
    """Every file under `root`, recursively, sorted by path."""
    if is_s3(root):
        bucket, prefix = split_s3(root.rstrip("/") + "/")
        entries: list[FileEntry] = []
        for page in _s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                entries.append(FileEntry(f"s3://{bucket}/{obj['Key']}", int(obj["Size"])))
        return sorted(entries, key=lambda e: e.path)
    result: list[FileEntry] = []
    if not os.path.isdir(root):
        return result
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            result.append(FileEntry(full, os.path.getsize(full)))
    return sorted(result, key=lambda e: e.path)


def list_names(root: str) -> list[str]:
    """Names of the files directly under `root` (not recursive)."""
    if is_s3(root):
        bucket, prefix = split_s3(root.rstrip("/") + "/")
        names: list[str] = []
        for page in _s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
            for obj in page.get("Contents", []):
                names.append(obj["Key"][len(prefix):])
        return sorted(names)
    if not os.path.isdir(root):
        return []
    return sorted(n for n in os.listdir(root) if os.path.isfile(os.path.join(root, n)))


def root_exists(root: str) -> bool:
    if is_s3(root):
        bucket, prefix = split_s3(root.rstrip("/") + "/")
        page = _s3().list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        return bool(page.get("KeyCount", 0))
    return os.path.isdir(root)


def read_text(path: str) -> str:
    if is_s3(path):
        bucket, key = split_s3(path)
        return _s3().get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def read_tail(path: str, length: int) -> tuple[int, bytes]:
    """The file's size and its last `length` bytes (all of it when shorter)."""
    if is_s3(path):
        bucket, key = split_s3(path)
        size = int(_s3().head_object(Bucket=bucket, Key=key)["ContentLength"])
        if size == 0:
            return 0, b""
        start = max(0, size - length)
        body = _s3().get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{size - 1}")["Body"].read()
        return size, body
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - length))
        return size, handle.read()


def open_binary(path: str) -> ByteStream:
    """The file's bytes as a stream read from the start (S3: one GET, read as it goes)."""
    if is_s3(path):
        bucket, key = split_s3(path)
        body: ByteStream = _s3().get_object(Bucket=bucket, Key=key)["Body"]
        return body
    return open(path, "rb")


def write_text(path: str, text: str) -> None:
    """Writes a whole file; local writes are atomic (temp file + rename) so readers never see half."""
    if is_s3(path):
        bucket, key = split_s3(path)
        _s3().put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"), ContentType="application/json")
        return
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".result-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


_GLOB_CHARS = re.compile(r"([\\*?\[\]{}])")


def spark_path(path: str) -> str:
    """A path Spark reads literally: Hadoop treats * ? [ ] { } as glob syntax."""
    return _GLOB_CHARS.sub(r"\\\1", path)
