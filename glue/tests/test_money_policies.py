"""A money column under a type policy: the amount its text shows, as the type asks."""
from __future__ import annotations

import json
from typing import Any

from conftest import Loader
from exportkit import col
from scenario import Versions, lake_rows

MONEY_ROWS = [(1, "$1,234.56"), (2, "-$0.50"), (3, "($7.05)"), (4, "$0.00"), (5, None)]


def test_money_retyped_to_a_number_keeps_its_amount(load: Loader, spark: Any, tmp_path: Any) -> None:
    """PostgreSQL prints money as $1,234.56: type double, float or decimal(p,s) takes the amount, as the
    default decimal(19,2) does, instead of failing every value."""
    export = Versions(tmp_path, "shop", "public", "till").export([col("id", "bigint"), col("price", "money")], MONEY_ROWS)
    expected = {
        "double": [1234.56, -0.5, -7.05, 0.0, None],
        "float": [1234.56, -0.5, -7.05, 0.0, None],
        "decimal(12,2)": ["1234.56", "-0.50", "-7.05", "0.00", None],
        "decimal(10,4)": ["1234.5600", "-0.5000", "-7.0500", "0.0000", None],
    }
    for i, (type_, values) in enumerate(expected.items()):
        table = f"money_as_{i}"
        result = load(export, "shop.public.till", table, action="create", primary_key="id",
                      column_policies=json.dumps({"price": {"type": type_}}))
        assert result.status == "succeeded", (type_, result.error)
        got = [r["price"] for r in lake_rows(spark, table)]
        if type_ == "float":
            got = [None if v is None else round(v, 2) for v in got]
        assert got == values, type_


def test_money_retyped_still_fails_on_loss_and_on_text_that_is_no_amount(load: Loader, spark: Any,
                                                                         tmp_path: Any) -> None:
    till = Versions(tmp_path, "shop", "public", "till")
    export = till.export([col("id", "bigint"), col("price", "money")], MONEY_ROWS)
    lossy = load(export, "shop.public.till", "money_lossy", action="create", primary_key="id",
                 column_policies=json.dumps({"price": {"type": "decimal(10,1)"}}))
    assert lossy.error is not None and lossy.error["class"] == "CastError", lossy.error
    assert "column 'price' (money) has 2 value(s) that cannot become decimal(10,1)" in lossy.error["message"]
    foreign = till.export([col("id", "bigint"), col("price", "money")], [(1, "1.234,56 €"), (2, "$1.00")])
    failed = load(foreign, "shop.public.till", "money_foreign", action="create", primary_key="id",
                  column_policies=json.dumps({"price": {"type": "double"}}))
    assert failed.error is not None and failed.error["class"] == "CastError", failed.error
    assert "column 'price' (money) has 1 value(s) that cannot become double" in failed.error["message"]
    assert not spark.catalog.tableExists("lake.tests.money_foreign")


def test_the_cast_error_of_money_text_suggests_a_policy_that_loads_it(load: Loader, tmp_path: Any) -> None:
    """Money text that is no amount (another locale's) fails under type: double too: the hint names type: string."""
    export = Versions(tmp_path, "shop", "public", "till").export([col("id", "bigint"), col("price", "money")],
                                                                 [(1, "1.234,56 €"), (2, "$1.00")])
    failed = load(export, "shop.public.till", "money_hint", action="create", primary_key="id")
    assert failed.error is not None and failed.error["class"] == "CastError", failed.error
    message = failed.error["message"]
    assert "column 'price' (money) has 1 value(s) that cannot become decimal(19,2)" in message
    assert 'columns: { price: { onInvalid: "null" } } } } or type: string' in message
    assert "type: double" not in message
