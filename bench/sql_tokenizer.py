"""What reading SQL text costs per statement: the one tokenizer against the regex lexers.

    python bench/sql_tokenizer.py [--rounds 5] [--baseline-rev 9e6d390]

The baseline is the regex code this replaced, loaded from git (``--baseline-rev``, the
last commit before the tokenizer) and measured in the same run. Per statement, each
candidate does what a Flight SQL statement pays on its way to DataFusion: ``is_query``,
the IOx function rewrite, ``?`` placeholders and ``last_cache`` names (and the INSERT /
DELETE / DROP / CREATE target for data-changing statements). The regex code's
``qualified_catalogs`` is left out of both: permissions are now checked by DataFusion
contexts holding only readable catalogs, so no reading of SQL text replaces it.

Candidates:

- **regex (baseline)**: the six regex lexers as they were;
- **tokens, first reading**: ``flight_iox.query`` on ``sql_tokens``, caches cleared before
  every statement (a statement text the server has not seen);
- **tokens, repeated**: the same statement again (prepare, schema, plan, run, and a
  dashboard's repeats hit the per-text caches);
- tokenizers alone: sqlglot's default and PostgreSQL tokenizers, and ours (PostgreSQL's set
  to read as DataFusion does, plus the gap check and ``Token`` objects);
- **DataFusion plan**: ``SessionContext.sql`` over an empty ``cpu`` table, the only parser
  entry point datafusion-python exposes (a logical plan: no token positions, and it needs
  every table registered); SELECT statements only.

Statements: the TSBS devops queries (``bench/tsbs_queries.py``), INSERT, DELETE, DROP and
CREATE forms, placeholders, and IOx's ``selector_*``/``date_bin_gapfill``. Prints the median
over ``--rounds`` of the mean CPU µs per statement, and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "catalog"))

import pyarrow as pa  # noqa: E402
import sqlglot  # noqa: E402
from datafusion import SessionContext  # noqa: E402
from sqlglot.dialects.postgres import Postgres  # noqa: E402
from sqlglot.tokens import Tokenizer  # noqa: E402

from bench.tsbs_queries import METRICS, TAGS, tsbs_queries  # noqa: E402
from flight_iox import sql_tokens  # noqa: E402
from flight_iox.influxql import iox_sql  # noqa: E402
from flight_iox.query import last_cache, placeholders, sql_text  # noqa: E402

BASELINE_REV = "9e6d390"  # main before the tokenizer

CHANGES = [
    "INSERT INTO cpu (hostname, usage_user, time) VALUES (?, ?, ?)",
    "INSERT INTO mine.iox.cpu (hostname, usage_user, time) VALUES "
    + ", ".join(f"('host_{i}', {i}.5, {1_451_606_400_000_000_000 + i})" for i in range(20)),
    "INSERT INTO summary SELECT hostname, max(usage_user) AS m, max(time) AS time FROM cpu "
    "WHERE time >= TIMESTAMP '2016-01-01 00:00:00' GROUP BY hostname",
    "DELETE FROM cpu WHERE hostname = ? AND time < TIMESTAMP '2016-01-01 06:00:00'",
    'DROP TABLE IF EXISTS mine.iox."Old Cpu"',
    "CREATE TABLE IF NOT EXISTS cpu2 (time TIMESTAMP NOT NULL, hostname VARCHAR, "
    "usage_user DOUBLE, PRIMARY KEY (hostname, time))",
]
QUERIES = [
    "SELECT * FROM cpu WHERE hostname = ? AND usage_user > ? ORDER BY time DESC LIMIT 10",
    "SELECT hostname, selector_max(usage_user, time)['time'] AS t FROM cpu GROUP BY hostname",
    "SELECT date_bin_gapfill(INTERVAL '1 minute', time) AS t, locf(max(usage_user)) AS m "
    "FROM cpu WHERE time >= TIMESTAMP '2016-01-01 00:00:00' "
    "AND time < TIMESTAMP '2016-01-01 01:00:00' GROUP BY 1",
]


def load_baseline(rev: str) -> dict[str, types.ModuleType]:
    """The regex modules as they were at ``rev`` (sources from git, run as fresh modules)."""
    modules = {}
    for name, path in {
        "sql_text": "flight_iox/query/sql_text.py",
        "placeholders": "flight_iox/query/placeholders.py",
        "iox_sql": "flight_iox/query/iox_sql.py",
        "last_cache": "flight_iox/query/last_cache.py",
        "deletes": "flight_iox/persist/deletes.py",
    }.items():
        source = subprocess.run(
            ["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout
        module = types.ModuleType(f"baseline_{name}")
        if name == "deletes":  # only its three statement regexes, which need sql_text's NAME
            source = source[: source.index("def _resolve")]
            source = source.replace(
                "from flight_iox.query.sql_text import", "from baseline_sql_text import"
            )
            source = "\n".join(
                line
                for line in source.splitlines()
                if not line.startswith(("from flight_iox.persist", "from flight_iox.engine"))
            )
        sys.modules[module.__name__] = module  # dataclasses look their module up
        exec(compile(source, f"{rev}:{path}", "exec"), module.__dict__)
        modules[name] = module
    return modules


@dataclass(frozen=True)
class Reader:
    """One implementation of the functions that read a statement's text."""

    is_query: Callable[[str], bool]
    rewrite_iox_sql: Callable[[str], tuple[str, object]]
    rewrite_placeholders: Callable[[str], tuple[str, int]]
    referenced_tables: Callable[[str], list[str]]
    target: Callable[[str], object]  # INSERT, then DELETE/DROP/CREATE

    def once(self, sql: str) -> object:
        """Each function once: what reading one statement costs."""
        if self.is_query(sql):
            rewritten = self.rewrite_iox_sql(sql)[0]
            self.rewrite_placeholders(rewritten)
            return self.referenced_tables(rewritten)
        return self.target(sql)

    def flight_sql(self, sql: str) -> object:
        """The calls one ADBC statement makes on the server (prepare, GetFlightInfo, DoGet)."""
        if not self.is_query(sql):  # CreatePreparedStatement, then DoPut
            self.rewrite_placeholders(sql)
            return self.target(sql)
        rewritten = self.rewrite_iox_sql(sql)[0]  # CreatePreparedStatement
        self.rewrite_placeholders(rewritten)
        self.referenced_tables(rewritten)
        self.rewrite_placeholders(sql)
        self.is_query(sql)  # GetFlightInfo
        return self.rewrite_iox_sql(sql)[0]  # DoGet


def regex_reader(old: dict[str, types.ModuleType]) -> Reader:
    """The regex code's functions."""
    text, deletes = old["sql_text"], old["deletes"]

    def target(sql: str) -> object:
        insert = text.parse_insert(sql)
        if insert is not None:
            return insert.target
        match = deletes._DELETE.match(sql) or deletes._DROP.match(sql) or deletes._CREATE.match(sql)
        return text.name_parts(match.group("target")) if match else None

    return Reader(
        text.is_query,
        old["iox_sql"].rewrite_iox_sql,
        old["placeholders"].rewrite_placeholders,
        old["last_cache"].referenced_tables,
        target,
    )


TOKENS = Reader(
    sql_text.is_query,
    iox_sql.rewrite_iox_sql,
    placeholders.rewrite_placeholders,
    last_cache.referenced_tables,
    sql_text.statement_target,
)


def first(read: Callable[[str], object]) -> Callable[[str], object]:
    """``read`` on a statement the server has not seen: every per-text cache cleared."""

    def fresh(sql: str) -> object:
        sql_tokens.clear_caches()
        return read(sql)

    return fresh


def datafusion_context() -> SessionContext:
    context = SessionContext()
    fields = [pa.field(t, pa.string()) for t in TAGS] + [pa.field(m, pa.float64()) for m in METRICS]
    schema = pa.schema([*fields, pa.field("time", pa.timestamp("ns"))])
    context.register_record_batches("cpu", [[pa.RecordBatch.from_pylist([], schema=schema)]])
    return context


def _plans(context: SessionContext, sql: str) -> bool:
    try:
        context.sql(sql)
        return True
    except Exception:  # DataFusion's planning error: not a candidate for this statement
        return False


def per_statement_us(read: Callable[[str], object], statements: list[str]) -> float:
    """Mean CPU µs ``read`` takes per statement, over about 2,000 readings.

    CPU time of this process, not wall time: the machine is shared, and what other
    processes take is not this code's cost.
    """
    repeats = max(1, 2000 // len(statements))
    start = time.process_time()
    for _ in range(repeats):
        for sql in statements:
            read(sql)
    return (time.process_time() - start) / (repeats * len(statements)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline-rev", default=BASELINE_REV)
    args = parser.parse_args()

    old = load_baseline(args.baseline_rev)
    tsbs = [q.sql for q in tsbs_queries(100, 12)]
    groups = {"TSBS queries": tsbs, "other queries": QUERIES, "INSERT/DELETE/DROP/CREATE": CHANGES}
    everything = tsbs + QUERIES + CHANGES
    regex = regex_reader(old)
    for sql in everything:  # both find the same last_cache() names and targets
        assert regex.once(sql) == TOKENS.once(sql), sql

    context = datafusion_context()
    compiled = any(p.suffix == ".so" for p in Path(sqlglot.__file__).parent.glob("*.so"))
    print(f"sqlglot {sqlglot.__version__} ({'compiled' if compiled else 'pure Python'})")
    default, postgres = Tokenizer(), Postgres.Tokenizer()
    candidates: list[tuple[str, Callable[[str], object], bool]] = [
        ("regex (baseline)", regex.once, False),
        ("tokens, first reading", first(TOKENS.once), False),
        ("tokens, repeated", TOKENS.once, False),
        ("regex, one ADBC statement", regex.flight_sql, False),
        ("tokens, one ADBC statement, first", first(TOKENS.flight_sql), False),
        ("tokens, one ADBC statement, repeated", TOKENS.flight_sql, False),
        ("sqlglot default Tokenizer alone", default.tokenize, False),
        ("sqlglot PostgreSQL Tokenizer alone", postgres.tokenize, False),
        ("sql_tokens.tokenize alone (uncached)", sql_tokens.tokenize.__wrapped__, False),
        ("DataFusion plan (SessionContext.sql)*", context.sql, True),
    ]
    cells = [  # (candidate, group) -> statements it reads
        (
            label,
            group,
            read,
            [sql for sql in statements if not selects_only or _plans(context, sql)],
        )
        for label, read, selects_only in candidates
        for group, statements in groups.items()
    ]
    samples: dict[tuple[str, str], list[float]] = {(c[0], c[1]): [] for c in cells}
    for _ in range(args.rounds):  # candidates interleaved, so load changes hit them alike
        for label, group, read, statements in cells:
            if statements:
                samples[label, group].append(per_statement_us(read, statements))
    print(f"{'median CPU µs per statement':40}" + "".join(f"{g:>28}" for g in groups))
    for label, _, _ in candidates:
        row = []
        for group in groups:
            if not samples[label, group]:
                row.append(f"{'n/a':>28}")
                continue
            us = statistics.median(samples[label, group])
            base = "regex, one ADBC statement" if "ADBC" in label else "regex (baseline)"
            ratio = us / statistics.median(samples[base, group])
            row.append(f"{us:>16.1f} {ratio:>8.2f}x  ")
        print(f"{label:40}" + "".join(row))
    print("ADBC rows: ratio to the regex code's ADBC row; other rows: to the baseline row")
    print("* what DataFusion plans with an empty cpu table (no last_cache(), selector_*, ?)")
    print(f"(mean statement length: {sum(map(len, everything)) / len(everything):.0f} chars)")


if __name__ == "__main__":
    main()
