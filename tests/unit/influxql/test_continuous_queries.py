"""Continuous queries: 1.x's schedule, the stored definitions, runs driven with a chosen ``now``."""

from __future__ import annotations

from pathlib import Path

import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS, Principal
from flight_iox.auth.tokens import Action, Permission, TokenRecord
from flight_iox.config import Settings
from flight_iox.errors import AlreadyExistsError, NotFoundError, QueryError
from flight_iox.influxql import ast
from flight_iox.influxql.cq_scheduler import Schedule, go_truncate, windowed
from flight_iox.influxql.parser import parse_one

S = 1_000_000_000
M = 60 * S
H = 60 * M
DAY = 24 * H
T0 = 1_700_000_000 * S // H * H  # an hour boundary (2023-11-14T22:00:00Z)

# cpu at one-minute steps over the hour before T0, two hosts.
DATA = "\n".join(f"cpu,host=h{i % 2} usage={i} {T0 - H + i * M}" for i in range(60))


def run(app: App, text: str, who: Principal = ANONYMOUS) -> list:
    return app.influxql.run(who, "db", text)


@pytest.mark.parametrize(
    ("schedule", "now", "last", "expected"),
    [
        # GROUP BY time(1h): at 8:00 the hour 7:00-8:00.
        (Schedule(H), 8 * H + 5, 7 * H, (8 * H, (7 * H, 8 * H))),
        # Not due before the next boundary.
        (Schedule(H), 8 * H - 1, 7 * H, None),
        # The first run (nothing ran since the start) covers up to the last boundary: empty.
        (Schedule(H), 7 * H + 30 * M, None, (7 * H, None)),
        # RESAMPLE EVERY 30m GROUP BY time(1h): at 8:30, the hour in progress.
        (Schedule(H, every=30 * M), 8 * H + 30 * M, 8 * H, (8 * H + 30 * M, (8 * H, 9 * H))),
        (Schedule(H, every=30 * M), 9 * H, 8 * H + 30 * M, (9 * H, (8 * H, 9 * H))),
        # RESAMPLE FOR 1h GROUP BY time(30m): at 8:00 both buckets of the last hour.
        (Schedule(30 * M, for_=H), 8 * H, 7 * H + 30 * M, (8 * H, (7 * H, 8 * H))),
        # GROUP BY time(1h, 15m): at 8:15 the hour 7:15-8:15.
        (Schedule(H, offset=15 * M), 8 * H + 15 * M, 7 * H + 15 * M,
         (8 * H + 15 * M, (7 * H + 15 * M, 8 * H + 15 * M))),
        # RESAMPLE EVERY 2h GROUP BY time(1h): each run covers the two hours since the last.
        (Schedule(H, every=2 * H), 10 * H, 8 * H, (10 * H, (8 * H, 10 * H))),
    ],
)  # fmt: skip
def test_the_schedule_is_1x(
    schedule: Schedule, now: int, last: int | None, expected: object
) -> None:
    assert schedule.due(DAY * 1000 + now, None if last is None else DAY * 1000 + last) == (
        _shift(expected, DAY * 1000)
    )


def _shift(value: object, by: int) -> object:
    if isinstance(value, tuple):
        return tuple(_shift(v, by) for v in value)
    return value + by if isinstance(value, int) else value


def test_weeks_are_counted_from_gos_zero_time() -> None:
    # 1970-01-01 was a Thursday; Go's Truncate(7d) gives the Monday before, not the epoch.
    assert go_truncate(0, 7 * DAY) == -3 * DAY
    assert go_truncate(5 * H + 7, H) == 5 * H


def test_the_window_replaces_the_queries_time_range() -> None:
    stmt = parse_one(
        "CREATE CONTINUOUS QUERY c ON db BEGIN SELECT mean(usage) INTO m FROM cpu "
        "WHERE host = 'h0' AND time > now() - 1d GROUP BY time(1m) END"
    )
    assert isinstance(stmt, ast.ContinuousQueryStatement) and stmt.select is not None
    condition = windowed(stmt.select, 10, 20).condition
    time = ast.VarRef("time")
    assert condition == ast.BinaryExpr(
        "and",
        ast.Paren(ast.BinaryExpr("=", ast.VarRef("host"), ast.StringLit("h0"))),
        ast.BinaryExpr(
            "and",
            ast.BinaryExpr(">=", time, ast.NumberLit(10, True)),
            ast.BinaryExpr("<", time, ast.NumberLit(20, True)),
        ),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELECT mean(usage) FROM cpu GROUP BY time(1m)", "INTO"),
        ("SELECT mean(usage) INTO m FROM cpu", "GROUP BY time"),
        ("SELECT usage INTO m FROM cpu GROUP BY time(1m)", "aggregate"),
    ],
)
def test_what_is_not_a_continuous_query_is_refused(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_one(f"CREATE CONTINUOUS QUERY c ON db BEGIN {text} END")


def test_resample_for_shorter_than_the_interval_is_refused() -> None:
    with pytest.raises(QueryError, match="FOR duration must be >="):
        parse_one(
            "CREATE CONTINUOUS QUERY c ON db RESAMPLE FOR 30s BEGIN "
            "SELECT mean(usage) INTO m FROM cpu GROUP BY time(1m) END"
        )


CQ = (
    'CREATE CONTINUOUS QUERY "per10m" ON "db" BEGIN SELECT mean(usage) AS mean, '
    "count(usage) INTO cpu_10m FROM cpu GROUP BY time(10m), * END"
)


def test_a_continuous_query_runs_when_due_and_writes_its_target(app: App) -> None:
    (created,) = run(app, CQ)
    assert created.error is None
    cqs = app.continuous_queries
    cqs.run_due(T0 - 10 * M + 1)  # first run: up to the last boundary, nothing before
    assert cqs.run_due(T0 - 10 * M + 2) == 0  # not due again within the interval
    assert cqs.run_due(T0) == 1  # the boundary: [T0-10m, T0)
    (result,) = run(app, "SELECT mean, count, host FROM cpu_10m")
    (series,) = result.series
    columns = [c.to_pylist() for c in series.data.columns]
    rows = [dict(zip(series.columns, values, strict=True)) for values in zip(*columns, strict=True)]
    # Minutes 50..59 of the hour: h0 has 50,52,..,58 (mean 54), h1 51,..,59 (mean 55).
    assert [(r["host"], r["mean"], r["count"]) for r in rows] == [("h0", 54.0, 5), ("h1", 55.0, 5)]
    status = cqs.status("db").to_pylist()
    assert status[0]["name"] == "per10m" and status[0]["rows_written"] == 2
    assert status[0]["window_start"] is not None and status[0]["last_error"] is None


def test_show_lists_and_drop_forgets(app: App) -> None:
    (shown,) = run(app, "SHOW CONTINUOUS QUERIES")
    (series,) = shown.series
    assert series.name == "db" and series.data.column(0).to_pylist() == ["per10m"]
    (again,) = run(app, CQ)
    assert again.error is None  # the same definition again: accepted, as in 1.x
    (other,) = run(app, CQ.replace("time(10m)", "time(5m)"))
    assert isinstance(other.cause, AlreadyExistsError)
    (dropped,) = run(app, 'DROP CONTINUOUS QUERY "per10m" ON "db"')
    assert dropped.error is None
    (missing,) = run(app, 'DROP CONTINUOUS QUERY "per10m" ON "db"')
    assert isinstance(missing.cause, NotFoundError)


def test_definitions_survive_a_restart(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", wal_fsync=False)
    app = build_app(settings)
    app.engine.write_line_protocol("db", DATA.encode(), principal=ANONYMOUS)
    assert run(app, CQ)[0].error is None
    app.close()
    again = build_app(settings)
    try:
        assert again.continuous_queries.status().column("name").to_pylist() == ["per10m"]
    finally:
        again.close()


def test_a_run_acts_as_its_creator(app: App) -> None:
    """A token that may read but not write the target fails at each run, with the error kept."""
    record = TokenRecord("id1", "owner", "hash", False, (
        Permission("db", frozenset({Action.READ, Action.CREATE, Action.WRITE})),))  # fmt: skip
    owner = Principal("owner", False, record)
    text = CQ.replace("per10m", "other_target").replace("INTO cpu_10m", "INTO elsewhere..m")
    (refused,) = run(app, text, owner)
    assert "may not write database 'elsewhere'" in (refused.error or "")


def test_into_measurement_backreference_writes_each_source(app: App) -> None:
    app.engine.write_line_protocol(
        "db", f"mem,host=h0 free=3i {T0 - M}".encode(), principal=ANONYMOUS
    )
    (result,) = run(
        app,
        f"SELECT max(*) INTO copies..:MEASUREMENT FROM cpu, mem WHERE time >= {T0 - H} "
        f"AND time < {T0} GROUP BY host",
    )
    assert result.error is None, result.error
    (cpu,) = run(app, "SELECT max_usage FROM copies..cpu WHERE host = 'h1'")
    assert cpu.series[0].data.column(1).to_pylist() == [59]
    (mem,) = run(app, "SELECT max_free FROM copies..mem")
    assert mem.series[0].data.column(1).to_pylist() == [3]
    with pytest.raises(QueryError, match="only :MEASUREMENT"):
        (bad,) = run(app, "SELECT max(*) INTO :SERIES FROM cpu")
        raise bad.cause  # type: ignore[misc]
