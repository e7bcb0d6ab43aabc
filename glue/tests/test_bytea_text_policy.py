"""A bytea column under type: string holds PostgreSQL's text of the bytes (\\x hex), losing none of them."""
from __future__ import annotations

import json
from typing import Any

from conftest import Loader
from exportkit import col
from scenario import Versions, lake_rows


def test_bytea_as_string_is_its_hex_text_and_keeps_every_byte(load: Loader, spark: Any, tmp_path: Any) -> None:
    files = Versions(tmp_path, "shop", "public", "files")
    columns = [col("id", "bigint"), col("data", "bytea")]
    rows = [(1, b"\x00\x01\xff"), (2, b"\xfe"), (3, b""), (4, None), (5, "é".encode())]
    loaded = load(files.export(columns, rows), "shop.public.files", "bytea_text", action="create", primary_key="id",
                  column_policies=json.dumps({"data": {"type": "string"}}))
    assert loaded.status == "succeeded", loaded.error
    assert [r["data"] for r in lake_rows(spark, "bytea_text")] == ["\\x0001ff", "\\xfe", "\\x", None, "\\xc3a9"]
    # Another byte that is no UTF-8 either is another value: the merge sees the change.
    changed = load(files.export(columns, [(1, b"\x00\x01\xff"), (2, b"\xfd"), (3, b""), (4, None), (5, "é".encode())]),
                   "shop.public.files", "bytea_text", action="merge", primary_key="id",
                   column_policies=json.dumps({"data": {"type": "string"}}))
    assert changed.status == "succeeded", changed.error
    assert (changed.inserted, changed.updated, changed.deleted) == (0, 1, 0)
    assert [r["data"] for r in lake_rows(spark, "bytea_text")][1] == "\\xfd"
