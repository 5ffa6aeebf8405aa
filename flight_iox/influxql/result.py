"""What an InfluxQL statement returns: series of rows, or an error, per statement."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa


@dataclass
class Series:
    """One InfluxQL series: a name, its group-by tag values and a table of rows.

    ``data`` holds the columns in output order; ``columns`` are their InfluxQL
    names (several may be equal in principle, so they are kept apart from the
    Arrow names). The first column is time for SELECT results.

    ``block``/``start``: when ``data`` is ``block.slice(start, len(data))``, a slice of
    one query's table, the flat Arrow form stacks neighbouring series without copying.
    """

    name: str
    tags: dict[str, str]
    columns: list[str]
    data: pa.Table
    block: pa.Table | None = field(default=None, repr=False, compare=False)
    start: int = field(default=0, repr=False, compare=False)


@dataclass
class StatementResult:
    """The result of one statement: its series, or the error it raised."""

    statement_id: int
    series: list[Series] = field(default_factory=list)
    error: str | None = None
