"""A key or cursor named by its lake name (after a rename) meets the same policy rules as by its export name."""
from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import Loader
from exportkit import col
from scenario import Versions

KEY_ENV = "LAKESYNC_TEST_HASH_KEY"


@pytest.fixture(autouse=True)
def hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "k")


@pytest.mark.parametrize(("table", "options", "policy", "problem"), [
    ("renamed_hashed_key", {"primary_key": "customer_id"}, {"hash": True}, "primary key column"),
    ("renamed_nulled_key", {"primary_key": "customer_id"}, {"onInvalid": "null"}, "primary key column"),
    ("renamed_hashed_cursor", {"cursor_column": "customer_id", "action": "incremental"}, {"hash": True}, "cursor column"),
])
def test_a_renamed_key_or_cursor_cannot_be_hashed_or_set_null(load: Loader, spark: Any, tmp_path: Any, table: str,
                                                               options: dict[str, str], policy: dict[str, Any],
                                                               problem: str) -> None:
    export = Versions(tmp_path, "shop", "public", "buyers").export([col("cid", "bigint"), col("note", "text")],
                                                                   [(1, "a"), (2, "b")])
    options = {"action": "merge", **options}
    result = load(export, "shop.public.buyers", table, hash_key_env=KEY_ENV,
                  column_policies=json.dumps({"cid": {"rename": "customer_id", **policy}}), **options)
    assert result.error is not None and result.error["class"] == "InvalidArgument", result.error
    assert "'cid'" in result.error["message"] and problem in result.error["message"], result.error["message"]
    assert not spark.catalog.tableExists(f"lake.tests.{table}")
