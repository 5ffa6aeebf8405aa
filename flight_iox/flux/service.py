"""The Flux entry point the HTTP route calls: text in, annotated CSV chunks out.

``Flux.prepare`` parses and plans as the caller (``SqlService.scoped``: a bucket the
token may not read is refused where ``from`` names it, and every SQL statement runs in
the caller's scoped context); ``Prepared.chunks`` then runs each result's lanes on
DataFusion, sorted by group key, and writes them table by table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from flight_iox.auth.policy import Principal
from flight_iox.errors import QueryError
from flight_iox.flux import ast
from flight_iox.flux.annotated_csv import Writer, table_starts
from flight_iox.flux.extern import extern_statements
from flight_iox.flux.functions import PACKAGES, UNIVERSE
from flight_iox.flux.interpreter import Interpreter
from flight_iox.flux.parser import parse
from flight_iox.flux.plan import Lane, Stream, q
from flight_iox.query.backend import ScopingBackend

# Chains (<= 100 operands) nested in brackets (<= 40 levels) can still build a tree deeper
# than Python's stack: the parser bounds each, this bounds the product.
TOO_DEEP = "the query's expressions are nested too deeply to evaluate; split them with variables"


@dataclass
class Prepared:
    """A planned Flux program: its results, ready to run."""

    interp: Interpreter
    results: list[tuple[str, Stream]]

    def chunks(self, writer: Writer) -> Iterator[bytes]:
        """The annotated CSV of every result, in the order the program yields them."""
        seen: set[str] = set()
        for name, stream in self.results:
            if name in seen:
                raise QueryError(
                    f"duplicate yield name {name!r}: give each yield(name: ...) its own"
                )
            seen.add(name)
            try:
                lanes = self.interp.lanes_of(stream)
            except RecursionError:
                raise QueryError(TOO_DEEP) from None
            yield from writer.result(name, self._tables(stream, lanes))

    def _tables(
        self, stream: Stream, lanes: tuple[Lane, ...]
    ) -> Iterator[tuple[tuple[str, ...], pa.Table]]:
        """The result's Flux tables in group key order, across lanes.

        Each lane's rows come sorted by its key (series order: ``_measurement``, the tags,
        then ``_field``) and split where the key changes; tables of several lanes (an
        integer and a float field) are then merged into that one order.
        """
        found: list[tuple[tuple, tuple[str, ...], pa.Table]] = []
        for lane in lanes:
            key = series_order(lane.key)
            order = [f"{q(k)} ASC NULLS FIRST" for k in key] + lane.order_sql()
            sql = f"SELECT {', '.join(lane.projection())} FROM ({lane.sql}) AS t"
            if order:
                sql += " ORDER BY " + ", ".join(order)
            data = self.interp.run_sql(stream.database or None, sql)
            starts = table_starts(data, lane.key)
            if len(lanes) == 1:
                yield from _split(lane.key, data, starts)
                continue
            firsts = data.select(list(key)).take(pa.array(starts)).to_pylist() if key else [{}]
            for first, (k, table) in zip(firsts, _split(lane.key, data, starts), strict=True):
                found.append((tuple(_sortable(first.get(c)) for c in key), k, table))
        found.sort(key=lambda item: item[0])
        for _, k, table in found:
            yield k, table


def series_order(key: Sequence[str]) -> list[str]:
    """Key columns in InfluxDB's series order: bounds, measurement, tags by name, field."""
    head = [c for c in ("_start", "_stop", "_measurement") if c in key]
    tail = ["_field"] if "_field" in key else []
    return head + sorted(c for c in key if c not in head and c not in tail) + tail


def _sortable(value: object) -> tuple:
    return (0, "", "") if value is None else (1, type(value).__name__, value)


def _split(
    key: tuple[str, ...], data: pa.Table, starts: np.ndarray
) -> Iterator[tuple[tuple[str, ...], pa.Table]]:
    if not len(starts):
        return
    ends = np.append(starts[1:], data.num_rows)
    for start, end in zip(starts, ends, strict=True):
        yield key, data.slice(int(start), int(end - start))


class Flux:
    """Flux over the SQL service; built by the composition root, called per request."""

    def __init__(self, sql: ScopingBackend, retention: Callable[[str], int | None]) -> None:
        self._sql = sql
        self._retention = retention

    def prepare(
        self,
        principal: Principal,
        text: str,
        now: int | None = None,
        extern: object = None,
    ) -> Prepared:
        """Parse and plan ``text`` as ``principal``; a syntax or planning error raises (400)."""
        program = parse(text)
        if not program.statements:
            raise QueryError("error @1:1: the query is empty")
        options = extern_statements(extern)
        interp = Interpreter(
            backend=self._sql.scoped(principal),
            principal=principal,
            now=time.time_ns() if now is None else now,
            universe=UNIVERSE,
            packages=PACKAGES,
            retention=self._retention,
        )
        try:
            results = interp.run(ast.Program((*options, *program.statements)))
        except RecursionError:
            raise QueryError(TOO_DEEP) from None
        if not results:
            raise QueryError("error @1:1: the query yields no results (no from() ... |> yield())")
        return Prepared(interp, results)
