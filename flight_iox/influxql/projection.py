"""Select lists that leave plain columns unaliased, and the Arrow step that names them back.

DataFusion plans every aliased column as a projection expression, and an explicit list of
columns as a projection too; ``SELECT *`` plans none. Planning those costs about as much as
running a small query, so a select list here names each logical output (``__time``,
``__g0``, ``__c3``) once, selects each distinct SQL expression once, leaves plain column
references unaliased, and becomes ``*`` when it is exactly every column of the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pyarrow as pa

from flight_iox.influxql.expressions import TableInfo
from flight_iox.sql_quote import quote_identifier

_PLAIN = re.compile(r'"((?:[^"]|"")*)"')


def plain_column(sql: str) -> str | None:
    """The column a SQL expression names, when it is just a quoted identifier."""
    match = _PLAIN.fullmatch(sql)
    return match.group(1).replace('""', '"') if match else None


def table_columns(info: TableInfo) -> frozenset[str]:
    """Every column of a measurement: its tags, its fields and time."""
    return frozenset(info.tags) | frozenset(info.fields) | {"time"}


@dataclass
class SelectList:
    """Logical output names mapped to SQL expressions, for one query over one table."""

    columns: frozenset[str]
    items: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, sql: str) -> None:
        """Output ``name`` is the value of ``sql``."""
        self.items[name] = sql

    def _aliases(self) -> dict[str, str]:
        """Each distinct computed expression's alias: the first logical name given to it."""
        aliases: dict[str, str] = {}
        for name, sql in self.items.items():
            if plain_column(sql) is None:
                aliases.setdefault(sql, name)
        return aliases

    def result_name(self, name: str) -> str:
        """The column the query's result holds ``name`` in."""
        sql = self.items[name]
        plain = plain_column(sql)
        return plain if plain is not None else self._aliases()[sql]

    def ref(self, name: str) -> str:
        """SQL for ``name`` in this query's ORDER BY, or in an outer query over it."""
        return quote_identifier(self.result_name(name))

    def sql(self) -> str:
        """The select list."""
        aliases = self._aliases()
        exprs = list(dict.fromkeys(self.items.values()))
        plain = {plain_column(e) for e in exprs}
        if not aliases and plain == self.columns:
            return "*"
        return ", ".join(
            f"{e} AS {quote_identifier(aliases[e])}" if e in aliases else e for e in exprs
        )

    def named(self, table: pa.Table) -> pa.Table:
        """The result with one column per logical name (repeats share one column)."""
        names = list(self.items)
        return pa.table([table.column(self.result_name(n)) for n in names], names=names)
