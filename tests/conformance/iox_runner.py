"""Runner for InfluxDB IOx's golden query tests (``../shared/conformance/iox``).

Each case gets a fresh in-process app (the same ``App`` the server runs),
its setup's writes go through the line-protocol write path, and each query runs
through the InfluxQL executor or the SQL query engine. ``persist`` steps persist
the buffer to Parquet under the Iceberg catalog, as the server does, so later
writes and queries mix files and buffer. Values are printed as IOx printed them,
then compared.

Run it directly for a report: ``python -m tests.conformance.iox_runner [-v]``.
"""

from __future__ import annotations

import json
import math
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.errors import QueryError
from tests.memory_folder import MEMORY_FOLDER

ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "iox"
# The setups' data lies in 2022; a fixed now() keeps now()-relative queries deterministic.
NOW = 1_667_181_600_000_000_000 + 3600 * 10**9
# Each case's data folder goes to memory where there is a tmpfs: the catalog's SQLite
# syncs every commit to disk, and the 140 persists of the setups (50 in one) waited on
# those syncs (``run_all`` side by side at load 7: 28.8 s in memory, 34.6 s on disk, the
# same CPU). What runs is the same.


@dataclass
class Outcome:
    """One query's verdict."""

    case: str
    lang: str
    kind: str
    query: str
    status: str  # pass, pass_unordered, fail, error, skip
    detail: str = ""
    result: str = ""  # what the query gave (rows or error), to compare runs with each other


@dataclass
class Report:
    """All verdicts, with counts per language and kind."""

    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, lang: str, kind: str, *statuses: str) -> int:
        """How many queries of a language and kind ended in one of ``statuses``."""
        return sum(
            1 for o in self.outcomes if o.lang == lang and o.kind == kind and o.status in statuses
        )


def clean_line_protocol(text: str) -> str:
    """IOx's lenient parser accepted indentation, comments and a trailing comma; we trim them."""
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = re.sub(r",(\s+\d+)$", r"\1", line)
        lines.append(line)
    return "\n".join(lines)


def format_float(value: float) -> str:
    """Rust's shortest float text: ``21.0``, ``1e16``, ``NaN``, ``inf``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = repr(float(value)).replace("e+", "e")
    return text


def format_time(nanos: int, zulu: bool) -> str:
    """RFC 3339 with 0, 3, 6 or 9 fraction digits (``Z`` for SQL, none for InfluxQL)."""
    text = str(np.datetime64(int(nanos), "ns"))
    base, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0")
    if fraction:
        digits = 3 if len(fraction) <= 3 else 6 if len(fraction) <= 6 else 9
        base += "." + fraction.ljust(digits, "0")
    return base + ("Z" if zulu else "")


def format_column(column: pa.Array, zulu: bool) -> list[str]:
    """A column's cells as IOx printed them."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_struct(column.type):
        fields = [column.field(i) for i in range(column.type.num_fields)]
        cells = [format_column(f, zulu=False) for f in fields]
        names = [column.type.field(i).name for i in range(column.type.num_fields)]
        valid = column.is_valid().to_pylist()
        return [
            "{" + ", ".join(f"{n}: {c[row]}" for n, c in zip(names, cells, strict=True)) + "}"
            if valid[row]
            else ""
            for row in range(len(column))
        ]
    if pa.types.is_timestamp(column.type):
        nanos = column.cast(pa.timestamp("ns")).cast(pa.int64()).to_pylist()
        return ["" if v is None else format_time(v, zulu) for v in nanos]
    out = []
    for value in column.to_pylist():
        if value is None:
            out.append("")
        elif isinstance(value, bool):
            out.append("true" if value else "false")
        elif isinstance(value, float):
            out.append(format_float(value))
        else:
            out.append(str(value))
    return out


def _rows(table: pa.Table, zulu: bool) -> list[list[str]]:
    columns = [
        format_column(table.column(i).combine_chunks(), zulu) for i in range(table.num_columns)
    ]
    return [list(r) for r in zip(*columns, strict=True)] if columns else []


def _sort_rows(rows: list[list[str]]) -> list[list[str]]:
    return sorted(rows)


def compare_influxql(app: App, query: dict) -> tuple[str, str, str]:
    """Run one InfluxQL query and compare its series (the last item: what it gave)."""
    try:
        results = app.influxql.run(ANONYMOUS, "db", query["query"], now=NOW)
    except QueryError as error:  # a parse error fails the whole request, as in InfluxDB
        verdict = ("pass", "") if query["kind"] == "error" else ("error", str(error))
        return (*verdict, str(error))
    errors = [r.error for r in results if r.error]
    if query["kind"] == "error":
        return ("pass", "", str(errors)) if errors else ("fail", "expected an error", "")
    if errors:
        return "error", errors[0], str(errors)
    expected = query["expected_rows"]["series"]
    got = [
        {
            "name": s.name,
            "tag_set": s.tags or None,
            "columns": s.columns,
            "rows": _rows(s.data, zulu=False),
        }
        for r in results
        for s in r.series
    ]
    want = [
        {"name": s["name"], "tag_set": s["tag_set"], "columns": s["columns"], "rows": s["rows"]}
        for s in expected
    ]
    key = lambda s: (s["name"], sorted((s["tag_set"] or {}).items()))  # noqa: E731
    g = sorted(({**s, "rows": _sort_rows(s["rows"])} for s in got), key=key)
    result = json.dumps(got if "ORDER BY" in query["query"].upper() else g)
    if got == want:
        return "pass", "", result
    unordered = "sorted" in query["compare"] or "ORDER BY" not in query["query"].upper()
    if unordered and len(got) == len(want):
        w = sorted(({**s, "rows": _sort_rows(s["rows"])} for s in want), key=key)
        if g == w:
            return "pass_unordered", "", result
    return "fail", f"got {json.dumps(got)[:600]}\nwant {json.dumps(want)[:600]}", result


def compare_sql(app: App, query: dict) -> tuple[str, str, str]:
    """Run one SQL query and compare its table (columns by position; last: what it gave)."""
    try:
        table = app.query.execute("db", query["query"].rstrip(";")).read_all()
    except Exception as error:
        if query["kind"] == "error":
            return "pass", "", str(error)
        return "error", str(error)[:300], str(error)
    if query["kind"] == "error":
        return "fail", "expected an error", ""
    rows = _rows(table, zulu=True)
    ordered = "ORDER BY" in query["query"].upper()
    result = json.dumps([table.column_names, rows if ordered else _sort_rows(rows)])
    want = query["expected_rows"]["rows"]
    if rows == want:
        return "pass", "", result
    if _sort_rows(rows) == _sort_rows(want):
        unordered = "sorted" in query["compare"] or not ordered
        return ("pass_unordered" if unordered else "fail"), "row order differs", result
    return "fail", f"got {rows[:5]}\nwant {want[:5]}", result


def run_case(path: Path, report: Report, settings: Mapping[str, Any] | None = None) -> None:
    """Apply a case's setup to a fresh app (``settings``: more server settings) and run
    its queries."""
    case = json.loads(path.read_text())
    setup = json.loads((ROOT / "setups" / f"{case['setup']}.json").read_text())
    with tempfile.TemporaryDirectory(dir=MEMORY_FOLDER) as folder:
        app = build_app(
            Settings(data_dir=Path(folder) / "data", wal_fsync=False, **(settings or {}))
        )
        persister = app.persister
        try:
            for step in setup["steps"]:
                if "write" in step:
                    app.engine.write_line_protocol(
                        "db", clean_line_protocol(step["write"]).encode(), principal=ANONYMOUS
                    )
                elif "persist" in step or step.get("kind") == "persist":
                    persister.persist()
                # retention and unsupported steps: skipped
            for query in case["queries"]:
                kind = query["kind"]
                outcome = Outcome(case["name"], query["lang"], kind, query["query"], "skip")
                if kind in ("result", "error"):
                    runner = compare_influxql if query["lang"] == "influxql" else compare_sql
                    try:
                        outcome.status, outcome.detail, outcome.result = runner(app, query)
                    except Exception as error:  # a crash in our code is a failure, not a stop
                        outcome.status, outcome.detail = "error", f"{type(error).__name__}: {error}"
                report.outcomes.append(outcome)
        finally:
            app.close()


def run_all(
    langs: tuple[str, ...] = ("influxql", "sql"), settings: Mapping[str, Any] | None = None
) -> Report:
    """Every case of the given languages (``settings``: more server settings)."""
    report = Report()
    for path in sorted((ROOT / "cases").glob("*.json")):
        if json.loads(path.read_text())["lang"] in langs:
            run_case(path, report, settings)
    return report


def main() -> None:
    """Print the counts (and with ``-v`` every failure)."""
    report = run_all()
    for lang, kind in (
        ("influxql", "result"),
        ("influxql", "error"),
        ("sql", "result"),
        ("sql", "error"),
    ):
        total = report.count(lang, kind, "pass", "pass_unordered", "fail", "error")
        exact = report.count(lang, kind, "pass")
        loose = report.count(lang, kind, "pass_unordered")
        print(
            f"{lang:8} {kind:6} pass {exact + loose}/{total} (in order {exact}, unordered {loose})"
        )
    if "-v" in sys.argv:
        for o in report.outcomes:
            if o.status in ("fail", "error"):
                print(f"--- [{o.case}] {o.status}: {o.query}\n{o.detail}\n")
    print(Counter(o.status for o in report.outcomes))


if __name__ == "__main__":
    main()
