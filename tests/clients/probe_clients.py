"""Run the client packages against a server and print what they saw, as JSON.

``python probe_clients.py flight_iox://host:port/db`` runs in a venv of its own (the lower
bound test installs the oldest declared versions there), so it imports nothing but the client
packages and their dependencies. The database must hold the conftest's ``cpu`` rows; the probe
creates and drops a ``probe_readings`` table.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import sys
from typing import Any

import sqlalchemy as sa

from adbc_driver_flight_iox import dbapi
from sqlalchemy_flight_iox import date_bin, date_trunc

VERSIONS = ("sqlalchemy", "pyarrow", "adbc-driver-manager", "adbc-driver-flightsql")


def probe(url: str) -> dict[str, Any]:
    """Reflection, SELECTs with binds and time functions, DDL, ingest and the raw driver."""
    out: dict[str, Any] = {name: importlib.metadata.version(name) for name in VERSIONS}
    engine = sa.create_engine(url)
    inspector = sa.inspect(engine)
    out["tables"] = inspector.get_table_names()
    out["columns"] = [column["name"] for column in inspector.get_columns("cpu")]
    out["primary_key"] = inspector.get_pk_constraint("cpu")["constrained_columns"]
    cpu = sa.Table("cpu", sa.MetaData(), autoload_with=engine)
    minute = date_bin(dt.timedelta(minutes=1), cpu.c.time).label("minute")
    hour = date_trunc("hour", cpu.c.time).label("hour")
    with engine.connect() as conn:
        out["count"] = conn.execute(sa.text("SELECT count(*) FROM cpu")).scalar()
        where = sa.select(cpu.c.usage).where(cpu.c.host == "b").order_by(cpu.c.time)
        out["usage_of_b"] = list(conn.execute(where).scalars())
        binned = sa.select(minute, sa.func.sum(cpu.c.usage)).group_by(minute).order_by(minute)
        out["per_minute"] = [[str(row[0]), row[1]] for row in conn.execute(binned)]
        hourly = sa.select(hour, sa.func.count()).group_by(hour)
        out["per_hour"] = [[str(row[0]), row[1]] for row in conn.execute(hourly)]
    readings = sa.Table(
        "probe_readings",
        sa.MetaData(),
        sa.Column("time", sa.DateTime, nullable=False),
        sa.Column("sensor", sa.String, primary_key=True),
        sa.Column("value", sa.Float),
    )
    readings.drop(engine, checkfirst=True)
    readings.create(engine)
    rows = [
        {"time": dt.datetime(2024, 1, 1), "sensor": "x", "value": 1.5},
        {"time": dt.datetime(2024, 1, 2), "sensor": "y", "value": 2.5},
    ]
    with engine.connect() as conn:
        conn.execute(readings.insert(), rows)
        query = sa.select(readings.c.sensor, readings.c.value).order_by(readings.c.time)
        out["ingested"] = [list(row) for row in conn.execute(query)]
    readings.drop(engine)
    engine.dispose()
    with dbapi.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) AS n FROM cpu")
        out["driver_arrow"] = cursor.fetch_arrow_table().column("n").to_pylist()
        cursor.execute("SELECT usage FROM cpu WHERE host = ? ORDER BY time", ("a",))
        out["driver_bound"] = [row[0] for row in cursor.fetchall()]
    return out


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1])))
