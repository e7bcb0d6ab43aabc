"""The config line a CastError suggests is YAML that names the failing column, whatever its name."""
from __future__ import annotations

import pytest

from lakesync_glue.columns import fix_hint
from lakesync_glue.pgtypes import ColumnMapping, plan_column

yaml = pytest.importorskip("yaml")

NAMES = ["amount", "Unit_Price", "a.b", "größe", "@amount", "*total", "&ref", "!flag", "%pct", "`tick", "'q'",
         '"dq"', "[x]", "-x", "?x", "|x", ">x", "#x", "null", "True", "~", "yes", "Off", "12", "1e3", "a:b", "x,y",
         "{x}", 'say"hi"', "back\\slash"]


@pytest.mark.parametrize("name", NAMES)
def test_the_suggested_config_line_parses_to_the_column(name: str) -> None:
    plan = plan_column(ColumnMapping(name, "numeric", "binary (UTF8)"), name.lower(), "string")
    for table, schema_table in (("shop.public.prices", "public.prices"), ("shop.Sales.Order Items", "Sales.Order Items"),
                                ("shop.public.#tmp", "public.#tmp")):
        line = fix_hint(plan, table).split(" or type: double")[0]
        assert line.startswith("tables: ")
        parsed = yaml.safe_load(line)
        assert parsed == {"tables": {schema_table: {"columns": {name: {"onInvalid": "null"}}}}}, line


def test_plain_names_stay_unquoted() -> None:
    plan = plan_column(ColumnMapping("amount", "numeric", "binary (UTF8)"), "amount", "string")
    assert fix_hint(plan, "shop.public.prices").startswith(
        'tables: { public.prices: { columns: { amount: { onInvalid: "null" } } } } or type: double')
