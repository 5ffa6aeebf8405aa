"""The TSBS devops query types, in InfluxQL and in SQL, for data made by gen_cpu.py.

Written from the definitions in the public timescale/tsbs repository
(cmd/tsbs_generate_queries/uses/devops): which metrics, how many hosts, which
window and which grouping each type uses. Windows are random (seeded) but always
inside the data; a window longer than the data (TSBS assumes at least 12 h) is
clamped to the whole data span, and the table notes it.

Each query carries how to compare the two answers: the key columns and the
value columns, in the order the InfluxQL and the SQL return them.

``sql`` is the natural SQL a user or a BI tool writes (lastpoint as ``DISTINCT ON``);
``tuned`` is what flight-iox's own documentation recommends where that differs
(lastpoint through the ``last_cache()`` table function).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

METRICS = [
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_nice",
    "usage_iowait",
    "usage_irq",
    "usage_softirq",
    "usage_steal",
    "usage_guest",
    "usage_guest_nice",
]
TAGS = [
    "hostname",
    "region",
    "datacenter",
    "rack",
    "os",
    "arch",
    "team",
    "service",
    "service_version",
    "service_environment",
]
HOUR = 3600
START = dt.datetime(2016, 1, 1, tzinfo=dt.UTC)
BIN = {"1m": "1 minute", "1h": "1 hour"}


@dataclass(frozen=True)
class Query:
    """One query in both languages and how to compare their rows."""

    name: str
    influxql: str
    sql: str
    keys: tuple[str, ...]  # key columns (same names in both answers)
    influx_values: tuple[str, ...]
    sql_values: tuple[str, ...]
    window_hours: float | None = None  # the window used, when clamped below TSBS's
    extra: bool = False  # shown for reference, outside the geometric mean and the targets
    tuned_sql: str = ""  # the project's recommended form, where it differs from ``sql``

    @property
    def tuned(self) -> str:
        """The SQL the tuned path (project driver, ``last_cache()``) runs."""
        return self.tuned_sql or self.sql


def _influx_time(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _sql_time(t: dt.datetime) -> str:
    return "TIMESTAMP '" + t.strftime("%Y-%m-%d %H:%M:%S") + "'"


class Generator:
    """Random windows and hosts for the TSBS devops queries, over ``hosts`` x ``hours``."""

    def __init__(self, hosts: int, hours: float, seed: int = 7) -> None:
        self.hosts = hosts
        self.span = int(hours * HOUR)
        self.rng = random.Random(seed)

    def _window(self, seconds: int) -> tuple[dt.datetime, dt.datetime, float]:
        seconds = min(seconds, self.span)
        offset = self.rng.randrange(self.span - seconds + 1)
        start = START + dt.timedelta(seconds=offset)
        return start, start + dt.timedelta(seconds=seconds), seconds / HOUR

    def _hosts(self, count: int) -> list[str]:
        return [f"host_{i}" for i in self.rng.sample(range(self.hosts), min(count, self.hosts))]

    def _time_where(self, start: dt.datetime, end: dt.datetime) -> tuple[str, str]:
        influx = f"time >= '{_influx_time(start)}' and time < '{_influx_time(end)}'"
        sql = f'"time" >= {_sql_time(start)} AND "time" < {_sql_time(end)}'
        return influx, sql

    def _bin(self, interval: str) -> str:
        return f"date_bin(INTERVAL '{BIN[interval]}', \"time\", TIMESTAMP '1970-01-01 00:00:00')"

    def groupby_hosts(
        self, name: str, metrics: int, hosts: int, hours: int, interval: str
    ) -> Query:
        """single-groupby-M-H-T and cpu-max-all-N: max per bucket for a few hosts."""
        names = METRICS[:metrics]
        start, end, used = self._window(hours * HOUR)
        chosen = self._hosts(hosts)
        influx_time, sql_time = self._time_where(start, end)
        influx_hosts = " or ".join(f"hostname = '{h}'" for h in chosen)
        sql_hosts = ", ".join(f"'{h}'" for h in chosen)
        influx_aggs = ",".join(f"max({m})" for m in names)
        sql_aggs = ", ".join(f"max({m}) AS max_{m}" for m in names)
        influxql = (
            f"SELECT {influx_aggs} from cpu where ({influx_hosts}) and {influx_time} "
            f"group by time({interval})"
        )
        sql = (
            f'SELECT {self._bin(interval)} AS "time", {sql_aggs} FROM cpu '
            f"WHERE hostname IN ({sql_hosts}) AND {sql_time} GROUP BY 1 ORDER BY 1"
        )
        influx_values = tuple("max" if i == 0 else f"max_{i}" for i in range(len(names)))
        return Query(
            name,
            influxql,
            sql,
            ("time",),
            influx_values,
            tuple(f"max_{m}" for m in names),
            _clamped(used, hours),
        )

    def double_groupby(self, name: str, metrics: int) -> Query:
        """double-groupby-N: mean per hour and host over 12 h."""
        names = METRICS[:metrics]
        start, end, used = self._window(12 * HOUR)
        influx_time, sql_time = self._time_where(start, end)
        influx_aggs = ",".join(f"mean({m})" for m in names)
        sql_aggs = ", ".join(f"avg({m}) AS mean_{m}" for m in names)
        influxql = f"SELECT {influx_aggs} from cpu where {influx_time} group by time(1h),hostname"
        sql = (
            f'SELECT {self._bin("1h")} AS "time", hostname, {sql_aggs} FROM cpu '
            f"WHERE {sql_time} GROUP BY 1, 2 ORDER BY 2, 1"
        )
        influx_values = tuple("mean" if i == 0 else f"mean_{i}" for i in range(len(names)))
        return Query(
            name,
            influxql,
            sql,
            ("hostname", "time"),
            influx_values,
            tuple(f"mean_{m}" for m in names),
            _clamped(used, 12),
        )

    def high_cpu_all(self) -> Query:
        """high-cpu-all: every row over 90% user CPU in a 12 h window, all hosts."""
        start, end, used = self._window(12 * HOUR)
        influx_time, sql_time = self._time_where(start, end)
        influxql = f"SELECT * from cpu where usage_user > 90.0 and {influx_time}"
        sql = f'SELECT * FROM cpu WHERE usage_user > 90.0 AND {sql_time} ORDER BY "time"'
        values = tuple(t for t in TAGS if t != "hostname") + tuple(METRICS)
        return Query(
            "high-cpu-all", influxql, sql, ("hostname", "time"), values, values, _clamped(used, 12)
        )

    def lastpoint(
        self, sql: str, name: str = "lastpoint", extra: bool = False, tuned: str = ""
    ) -> Query:
        """lastpoint: the latest row of every host."""
        influxql = 'SELECT * from cpu group by "hostname" order by time desc limit 1'
        values = tuple(t for t in TAGS if t != "hostname") + tuple(METRICS)
        return Query(
            name, influxql, sql, ("hostname", "time"), values, values, extra=extra, tuned_sql=tuned
        )

    def groupby_orderby_limit(self) -> Query:
        """groupby-orderby-limit: the 5 latest minutes before a random time, max per minute.

        TSBS's InfluxQL has no ORDER BY, so InfluxDB would return the 5 oldest minutes while
        the SQL form returns the 5 newest; InfluxDB gets ``order by time desc`` to match.
        """
        end = self._window(0)[0]
        influxql = (
            f"SELECT max(usage_user) from cpu WHERE time < '{_influx_time(end)}' "
            "group by time(1m) order by time desc limit 5"
        )
        sql = (
            f'SELECT {self._bin("1m")} AS "time", max(usage_user) AS max_usage_user FROM cpu '
            f'WHERE "time" < {_sql_time(end)} GROUP BY 1 ORDER BY 1 DESC LIMIT 5'
        )
        return Query(
            "groupby-orderby-limit", influxql, sql, ("time",), ("max",), ("max_usage_user",)
        )


# Lastpoint as users write it, and as flight-iox's docs recommend (its last-value cache, as
# InfluxDB 3 does); the row_number() form is timed too, for reference.
NATURAL_LASTPOINT_SQL = "SELECT DISTINCT ON (hostname) * FROM cpu ORDER BY hostname, time DESC"
LASTPOINT_SQL = "SELECT * FROM last_cache('cpu') ORDER BY hostname"
WINDOW_LASTPOINT_SQL = (
    'SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY hostname ORDER BY "time" DESC)'
    " AS rn FROM cpu) AS t WHERE rn = 1 ORDER BY hostname"
)
JOIN_LASTPOINT_SQL = (
    'SELECT c.* FROM cpu AS c JOIN (SELECT hostname, max("time") AS t FROM cpu '
    'GROUP BY hostname) AS m ON c.hostname = m.hostname AND c."time" = m.t ORDER BY c.hostname'
)


def _clamped(used: float, wanted: float) -> float | None:
    return used if used < wanted else None


def tsbs_queries(
    hosts: int, hours: float, seed: int = 7, lastpoint_sql: str = LASTPOINT_SQL
) -> list[Query]:
    """One instance of each query type the issue names, in its order (``lastpoint_sql``: the
    tuned lastpoint)."""
    g = Generator(hosts, hours, seed)
    return [
        g.groupby_hosts("single-groupby-1-1-1", 1, 1, 1, "1m"),
        g.groupby_hosts("single-groupby-5-8-1", 5, 8, 1, "1m"),
        g.groupby_hosts("cpu-max-all-8", 10, 8, 8, "1h"),
        g.double_groupby("double-groupby-1", 1),
        g.double_groupby("double-groupby-all", 10),
        g.high_cpu_all(),
        g.lastpoint(NATURAL_LASTPOINT_SQL, tuned=lastpoint_sql),
        g.groupby_orderby_limit(),
        g.lastpoint(WINDOW_LASTPOINT_SQL, "lastpoint (row_number SQL)", extra=True),
        g.lastpoint(JOIN_LASTPOINT_SQL, "lastpoint (max(time) join SQL)", extra=True),
    ]
