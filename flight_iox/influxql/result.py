"""What an InfluxQL statement returns: series of rows, or an error, per statement."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from flight_iox.errors import FlightIoxError, ForbiddenError, QueryError


@dataclass(eq=False)
class Series:
    """One InfluxQL series: a name, its group-by tag values and a table of rows.

    ``data`` holds the columns in output order; ``columns`` are their InfluxQL
    names (several may be equal in principle, so they are kept apart from the
    Arrow names). The first column is time for SELECT results.

    A series cut from one query's table is given as ``block``, ``start`` and ``length``
    instead of ``data`` (which is then sliced only when asked for): the flat Arrow form
    stacks neighbouring series straight from ``block``, without a table per series.
    """

    name: str
    tags: dict[str, str]
    columns: list[str]
    _data: pa.Table | None = field(default=None, repr=False)
    block: pa.Table | None = field(default=None, repr=False)
    start: int = field(default=0, repr=False)
    length: int = field(default=0, repr=False)

    @property
    def data(self) -> pa.Table:
        """The rows of this series."""
        if self._data is None:
            assert self.block is not None, "a series needs data or a block"
            self._data = self.block.slice(self.start, self.length)
        return self._data

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema of ``data``."""
        return self.block.schema if self._data is None and self.block else self.data.schema

    @property
    def num_rows(self) -> int:
        """How many rows the series has."""
        return self.length if self._data is None else self._data.num_rows


@dataclass
class StatementResult:
    """The result of one statement: its series, or the error it raised (``cause``: as raised)."""

    statement_id: int
    series: list[Series] = field(default_factory=list)
    error: str | None = None
    cause: FlightIoxError | None = field(default=None, repr=False)


def table_series(name: str, columns: list[str], rows: list[list[object]]) -> Series:
    """A series from rows of Python values (meta answers: SHOW ...)."""
    data = pa.table({f"c{i}": [r[i] for r in rows] for i in range(len(columns))})
    return Series(name, {}, columns, data)


def first_failure(results: list[StatementResult]) -> FlightIoxError | None:
    """The error of the first failed statement (the one that stopped the text), if any."""
    for result in results:
        if result.error is not None:
            return result.cause or QueryError(result.error)
    return None


def refusal(results: list[StatementResult]) -> ForbiddenError | None:
    """The permission error that stopped the text, if one did (it answers the whole request)."""
    failure = first_failure(results)
    return failure if isinstance(failure, ForbiddenError) else None
