"""Schema evolution between the export and an existing lake table: pure planning.

New source columns are added; lake columns gone from the source stay (NULL for new
rows) and are reported; a type change is applied only when Iceberg can promote the
lake type (int -> bigint, float -> double, wider decimal precision); any other type
change fails the table.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .errors import SchemaConflict

Column = tuple[str, str]  # (lake name, Spark SQL type)

_DECIMAL = re.compile(r"decimal\((\d+),(\d+)\)")
_INTEGER_DIGITS = {"int": 10, "bigint": 19}


@dataclass(frozen=True)
class SchemaPlan:
    write_types: dict[str, str]  # type each source column is written as
    add_columns: list[Column] = field(default_factory=list)
    widen_columns: list[tuple[str, str, str]] = field(default_factory=list)  # (name, from, to)
    dropped_columns: list[str] = field(default_factory=list)
    table_columns: list[Column] = field(default_factory=list)  # the lake table's columns afterwards, in order
    retyped_columns: list[tuple[str, str, str]] = field(default_factory=list)  # rebuild only: (name, from, to)
    # Columns that hold no value and whose type cannot be changed in place: dropped and added again with
    # the new type at the same position (name, from, to).
    replaced_columns: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def changes(self) -> list[str]:
        out = [f"added column {name} {type_}" for name, type_ in self.add_columns]
        out += [f"widened column {name} from {old} to {new}" for name, old, new in self.widen_columns]
        out += [f"rebuilt column {name} from {old} to {new}" for name, old, new in self.retyped_columns]
        out += [f"replaced column {name} (it held no value) from {old} to {new}" for name, old, new in self.replaced_columns]
        return out

    @property
    def alters_table(self) -> bool:
        return bool(self.add_columns or self.widen_columns or self.retyped_columns or self.replaced_columns)


def _decimal(type_: str) -> tuple[int, int] | None:
    m = _DECIMAL.fullmatch(type_)
    return (int(m.group(1)), int(m.group(2))) if m else None


def compatibility(source: str, lake: str) -> tuple[str, str]:
    """('same'|'fits'|'widen'|'conflict', type to write): how a source type meets the lake's."""
    if source == lake:
        return "same", lake
    if (source, lake) in (("int", "bigint"), ("float", "double")):
        return "fits", lake
    if (source, lake) in (("bigint", "int"), ("double", "float")):
        return "widen", source
    src_dec, lake_dec = _decimal(source), _decimal(lake)
    if src_dec and lake_dec:
        (p, s), (lp, ls) = src_dec, lake_dec
        if s == ls:
            return ("fits", lake) if p <= lp else ("widen", source)
        if ls >= s and lp - ls >= p - s:
            return "fits", lake
        return "conflict", lake
    if source in _INTEGER_DIGITS and lake_dec and lake_dec[0] - lake_dec[1] >= _INTEGER_DIGITS[source]:
        return "fits", lake
    return "conflict", lake


def plan_schema(
    source: Sequence[Column],
    lake: Sequence[Column] | None,
    table: str,
    lake_table: str,
    pg_types: dict[str, str] | None = None,
    rebuild: str | None = None,
    replace_empty: Sequence[str] = (),
    origin: str = "the export",
) -> SchemaPlan:
    """How the export's columns are written into the lake table (None: the table is new).

    `rebuild`: the command that replaces the table with the new types (None when the load cannot be rebuilt).
    `replace_empty`: lake columns that hold no value, replaced by a column of the export's type when Iceberg
    cannot change theirs in place.
    """
    if lake is None:
        return SchemaPlan(write_types=dict(source), table_columns=list(source))
    lake_types = dict(lake)
    source_names = {name for name, _ in source}
    write_types: dict[str, str] = {}
    add: list[Column] = []
    widen: list[tuple[str, str, str]] = []
    replaced: list[tuple[str, str, str]] = []
    conflicts: list[str] = []
    for name, type_ in source:
        if name not in lake_types:
            add.append((name, type_))
            write_types[name] = type_
            continue
        verdict, write = compatibility(type_, lake_types[name])
        if verdict == "conflict" and name in replace_empty:
            replaced.append((name, lake_types[name], type_))
            write = type_
        elif verdict == "conflict":
            pg = f" ({pg_types[name]})" if pg_types and name in pg_types else ""
            conflicts.append(f"column {name!r} is {lake_types[name]} in the lake but {type_}{pg} in {origin}")
        elif verdict == "widen":
            widen.append((name, lake_types[name], write))
        write_types[name] = write
    if conflicts:
        raise SchemaConflict(
            f"table {table} -> {lake_table}: {'; '.join(conflicts)}. Iceberg cannot change these types in place "
            "(only int->bigint, float->double and wider decimal precision with the same scale); "
            + (f"rebuild the table from the export with the new types ({rebuild}), " if rebuild else "")
            + "load into a new lake table (the table's lakeName), or migrate the column by hand"
        )
    widened = {name: new for name, _old, new in widen + replaced}
    table_columns = [(name, widened.get(name, type_)) for name, type_ in lake] + add
    dropped = [name for name, _ in lake if name not in source_names]
    return SchemaPlan(write_types, add, widen, dropped, table_columns, replaced_columns=replaced)


def plan_rebuild(source: Sequence[Column], lake: Sequence[Column]) -> SchemaPlan:
    """A rebuild (an atomic replace of the table): the export's types win; lake-only columns stay, NULL."""
    lake_types = dict(lake)
    source_names = {name for name, _ in source}
    add = [(n, t) for n, t in source if n not in lake_types]
    retyped = [(n, lake_types[n], t) for n, t in source if n in lake_types and lake_types[n] != t]
    dropped = [n for n, _ in lake if n not in source_names]
    table_columns = list(source) + [(n, t) for n, t in lake if n not in source_names]
    return SchemaPlan(dict(source), add, [], dropped, table_columns, retyped)
