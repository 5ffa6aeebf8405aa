"""Runs continuous queries on InfluxDB 1.x's schedule, as the principal that created them.

Every ``--cq-run-interval`` the scheduler looks at each stored continuous query and
runs those due, as 1.x's continuous querier does:

- With no RESAMPLE, a query runs at each ``GROUP BY time()`` boundary (shifted by the
  offset) over the interval that just ended. ``RESAMPLE EVERY e`` runs it every ``e``;
  ``RESAMPLE FOR f`` makes each run cover the last ``f`` (every bucket of it again).
- The first run after a start (or a creation) is immediate, over the window ending at
  the last boundary; a server that was down does not catch up on missed windows
  (1.x keeps the last run time in memory only, as here).
- Boundaries are Go's ``Time.Truncate`` (counted from 0001-01-01, not the Unix
  epoch): the same for intervals that divide a day, three days apart for weeks. 1.x
  computes windows that way, so the same CQ covers the same rows here.
- A time range in the query's WHERE clause is replaced by the window.

A run is the query's ``SELECT ... INTO`` through the ordinary InfluxQL path, in a
context built for the creating token (looked up again at each run: a deleted token
makes the run fail). Each outcome (window, rows written, error) is kept for
``system.continuous_queries`` and errors are logged.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

from flight_iox.auth.policy import Principal
from flight_iox.errors import FlightIoxError, QueryError
from flight_iox.influxql import ast
from flight_iox.influxql.continuous import SETTING_KIND
from flight_iox.influxql.executor import run_statement
from flight_iox.influxql.parse_cq import group_by_time
from flight_iox.influxql.parser import parse_one
from flight_iox.influxql.service import InfluxQL
from flight_iox.influxql.timerange import is_time_ref
from flight_iox.query.engine_errors import is_engine_error

log = logging.getLogger(__name__)

GO_ZERO_NS = -62_135_596_800 * 1_000_000_000  # Go's zero Time, 0001-01-01 UTC, in Unix ns
_TIME_OPS = frozenset({"=", "!=", "<>", "<", "<=", ">", ">="})


def go_truncate(t: int, d: int) -> int:
    """``t`` rounded down to a multiple of ``d`` since Go's zero time (``Time.Truncate``)."""
    return t - (t - GO_ZERO_NS) % d


class Definitions(Protocol):
    """Where the definitions are kept: the schema catalog's named objects."""

    def objects(self, kind: str) -> list[tuple[str, str, dict[str, object]]]:
        """Every definition of ``kind`` as (database, name, record), sorted."""
        ...


@dataclass(frozen=True)
class Schedule:
    """A continuous query's timing: ``GROUP BY time(interval, offset)`` and RESAMPLE."""

    interval: int
    offset: int = 0
    every: int = 0
    for_: int = 0

    def due(self, now: int, last_run: int | None) -> tuple[int, tuple[int, int] | None] | None:
        """None when not due; else the new last-run time and the window ``[start, end)``
        (None when it is empty), by the rules of 1.x's ``ExecuteContinuousQuery``."""
        every = self.every or self.interval
        if last_run is None:
            next_run = now
        else:
            next_run = last_run + every
            if next_run > now:
                return None
        new_last = go_truncate(now - self.offset, every) + self.offset
        span = self.for_ or (every if self.interval < every else self.interval)
        every = min(every, self.interval)
        start = go_truncate(next_run + self.interval - span - self.offset - 1, self.interval)
        end = go_truncate(now + self.interval - every - self.offset, self.interval)
        window = (start + self.offset, end + self.offset)
        return new_last, window if window[1] > window[0] else None


def windowed(select: ast.SelectStatement, start: int, end: int) -> ast.SelectStatement:
    """The SELECT with its time conditions replaced by ``start <= time < end``."""
    time_ref = ast.VarRef("time")
    bounds: ast.Expr = ast.BinaryExpr(
        "and",
        ast.BinaryExpr(">=", time_ref, ast.NumberLit(start, True)),
        ast.BinaryExpr("<", time_ref, ast.NumberLit(end, True)),
    )
    rest = _without_time(select.condition)
    condition = bounds if rest is None else ast.BinaryExpr("and", ast.Paren(rest), bounds)
    return dataclasses.replace(select, condition=condition)


def _without_time(expr: ast.Expr | None) -> ast.Expr | None:
    """``expr`` without its top-level ANDed time comparisons (None when nothing is left)."""
    if expr is None:
        return None
    if isinstance(expr, ast.Paren):
        inner = _without_time(expr.expr)
        return None if inner is None else ast.Paren(inner)
    if isinstance(expr, ast.BinaryExpr) and expr.op == "and":
        lhs, rhs = _without_time(expr.lhs), _without_time(expr.rhs)
        if lhs is None or rhs is None:
            return lhs or rhs
        return ast.BinaryExpr("and", lhs, rhs)
    if (
        isinstance(expr, ast.BinaryExpr)
        and expr.op in _TIME_OPS
        and (is_time_ref(expr.lhs) or is_time_ref(expr.rhs))
    ):
        return None
    return expr


@dataclass
class RunState:
    """What ``system.continuous_queries`` shows of one query."""

    last_run: int | None = None  # the schedule's last run time (1.x's LastRun)
    ran_at: int | None = None  # wall clock of the last execution
    window: tuple[int, int] | None = None
    rows_written: int = 0
    runs: int = 0
    failures: int = 0
    error: str | None = None


STATUS_SCHEMA = pa.schema(
    [
        pa.field("database", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("query", pa.string(), nullable=False),
        pa.field("owner", pa.string()),
        pa.field("last_run", pa.timestamp("ns")),
        pa.field("window_start", pa.timestamp("ns")),
        pa.field("window_end", pa.timestamp("ns")),
        pa.field("rows_written", pa.int64(), nullable=False),
        pa.field("runs", pa.int64(), nullable=False),
        pa.field("failures", pa.int64(), nullable=False),
        pa.field("last_error", pa.string()),
    ]
)


class ContinuousQueries:
    """The scheduler: ``start`` a thread, or call ``run_due`` with a chosen ``now``.

    ``principal_of`` maps a stored owner (token id, None for auth off) to the principal
    to run as, or raises ``FlightIoxError`` when the token is gone.
    """

    def __init__(
        self,
        admin: Definitions,
        principal_of: Callable[[str | None], Principal],
        run_interval: float,
    ) -> None:
        self._admin = admin
        self._principal_of = principal_of
        self._run_interval = run_interval
        self._influxql: InfluxQL | None = None
        self._states: dict[tuple[str, str], RunState] = {}
        self._pass = threading.Lock()  # one pass at a time
        # Guards _states only, never held while a query runs: a query reading
        # system.continuous_queries must not wait on a pass that waits on the query engine.
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.version = 0  # moves after each run (system table refresh)

    def attach(self, influxql: InfluxQL) -> None:
        """The InfluxQL service runs use (built after this, which its system table needs)."""
        self._influxql = influxql

    def start(self) -> None:
        """Run due queries every ``run_interval`` seconds in a daemon thread (0: never)."""
        if self._run_interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="continuous-queries", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after its current pass."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self._run_interval):
            try:
                self.run_due(time.time_ns())
            except Exception:  # a bug of ours: logged, the next pass tries again
                log.exception("continuous query pass failed")

    def _definitions(self) -> list[tuple[str, str, dict[str, object]]]:
        return self._admin.objects(SETTING_KIND)

    def run_due(self, now: int) -> int:
        """Run every query due at ``now`` (ns); how many ran."""
        ran = 0
        with self._pass:
            definitions = self._definitions()
            live = {(d, n) for d, n, _ in definitions}
            with self._lock:
                for key in [k for k in self._states if k not in live]:
                    del self._states[key]  # dropped: a new one of that name starts afresh
                states = [self._states.setdefault((d, n), RunState()) for d, n, _ in definitions]
            for (database, _, definition), state in zip(definitions, states, strict=True):
                if self._run_one(database, definition, state, now):
                    ran += 1
            self.version += 1
        return ran

    def _run_one(
        self, database: str, definition: dict[str, object], state: RunState, now: int
    ) -> bool:
        try:
            stmt = parse_one(str(definition.get("query", "")))
            if not isinstance(stmt, ast.ContinuousQueryStatement) or stmt.select is None:
                raise QueryError("stored text is not a continuous query")
            grouping = group_by_time(stmt.select)
            assert grouping is not None  # checked at CREATE
            due = Schedule(grouping[0], grouping[1], stmt.every, stmt.for_).due(now, state.last_run)
        except FlightIoxError as error:
            state.error = error.message
            return False
        if due is None:
            return False
        state.last_run, window = due
        if window is None:
            return False
        state.ran_at, state.window, state.runs = time.time_ns(), window, state.runs + 1
        try:
            state.rows_written = self._execute(database, definition, stmt.select, window)
            state.error = None
        except FlightIoxError as error:
            self._failed(state, stmt.name, database, error.message)
        except Exception as error:
            if not is_engine_error(error):
                raise  # a bug of ours: the pass logs it with its traceback
            self._failed(state, stmt.name, database, str(error))
        return True

    @staticmethod
    def _failed(state: RunState, name: str, database: str, message: str) -> None:
        state.failures += 1
        state.error = message
        log.warning("continuous query %s on %s failed: %s", name, database, message)

    def _execute(
        self,
        database: str,
        definition: dict[str, object],
        select: ast.SelectStatement,
        window: tuple[int, int],
    ) -> int:
        if self._influxql is None:
            raise QueryError("continuous queries are not attached to InfluxQL")
        owner = definition.get("owner_id")
        principal = self._principal_of(owner if isinstance(owner, str) else None)
        ctx = self._influxql.context(principal, database, now=time.time_ns())
        series = run_statement(windowed(select, *window), ctx)
        return sum(int(s.data.column(1)[0].as_py() or 0) for s in series if s.name == "result")

    def status(self, database: str | None = None) -> pa.Table:
        """``system.continuous_queries``: every query (of ``database``), its last outcome."""
        rows: list[dict[str, object]] = []
        with self._lock:
            states = dict(self._states)
        for db, name, definition in self._definitions():
            if database is not None and db != database:
                continue
            state = states.get((db, name), RunState())
            window = state.window or (None, None)
            rows.append(
                {
                    "database": db,
                    "name": name,
                    "query": str(definition.get("query", "")),
                    "owner": definition.get("owner"),
                    "last_run": state.ran_at,
                    "window_start": window[0],
                    "window_end": window[1],
                    "rows_written": state.rows_written,
                    "runs": state.runs,
                    "failures": state.failures,
                    "last_error": state.error,
                }
            )
        return pa.Table.from_pylist(rows, schema=STATUS_SCHEMA)
