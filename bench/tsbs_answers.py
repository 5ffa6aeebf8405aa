"""The answers of bench/tsbs.py: InfluxDB 1.x's and flight-iox's rows, compared before timing.

Both sides are read into one dict per row (InfluxQL series flattened with their tags, Flight
SQL results with times as ns integers) and compared as sorted tuples, so that a benchmark
never times a wrong answer. ``influx_disk`` waits for InfluxDB's full compaction before its
bytes are counted (bench/peers.py uses it too).
"""

from __future__ import annotations

import time

import pyarrow as pa
import requests

from bench.influxdb1 import InfluxDB1, folder_bytes
from bench.storage import run
from bench.tsbs_queries import Query

DATABASE = "tsbs"  # bench.storage's helpers use this database
# Compact soon after the writes stop, so the storage figure is the compacted one.
INFLUX_DATA_OPTIONS = {
    "cache-snapshot-write-cold-duration": '"2s"',
    "compact-full-write-cold-duration": '"5s"',
}


# --- InfluxDB 1.x side ----------------------------------------------------------------------


def influx_rows(peer: InfluxDB1, session: requests.Session, query: str) -> list[dict]:
    """InfluxQL over ``/query`` (ns epochs), flattened to one dict per row with its tags."""
    reply = session.get(
        f"{peer.url}/query", params={"db": DATABASE, "q": query, "epoch": "ns"}, timeout=600
    )
    reply.raise_for_status()
    rows = []
    for result in reply.json()["results"]:
        if "error" in result:
            raise RuntimeError(f"InfluxDB: {result['error']} in {query}")
        for series in result.get("series", []):
            tags = series.get("tags", {})
            for values in series["values"]:
                rows.append({**tags, **dict(zip(series["columns"], values, strict=True))})
    return rows


def influx_disk(peer: InfluxDB1, timeout: float) -> tuple[int, int, bool]:
    """TSM bytes and all bytes of database ``tsbs``, once fully compacted; and whether it got there.

    The total includes the series file, whose segments are preallocated (tens of MB whatever
    the data), so the TSM bytes are the comparable figure.
    """
    folder = peer.root / "data" / DATABASE
    deadline = time.monotonic() + timeout
    compacted = False
    while time.monotonic() < deadline:
        wal = folder_bytes(peer.root / "wal" / DATABASE, "*.wal")
        tsm = list(folder.rglob("*.tsm"))
        shards = {p.parent for p in tsm}
        temporary = list(folder.rglob("*.tmp"))
        if not wal and tsm and len(tsm) == len(shards) and not temporary:
            compacted = True
            break
        time.sleep(0.1)  # a listing of one small folder: cheap, and the smoke tests wait on it
    return folder_bytes(folder, "*.tsm"), folder_bytes(folder), compacted


# --- flight-iox side ------------------------------------------------------------------------


def iox_rows(conn: object, sql: str) -> list[dict]:
    """SQL over Flight SQL (ADBC), times as ns integers."""
    table = run(conn, sql)
    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())
        columns[name] = column
    return pa.table(columns).to_pylist() if columns else []


# --- comparing and timing -------------------------------------------------------------------


def _normal(value: object) -> object:
    if isinstance(value, float) and value == int(value):
        return int(value)
    if isinstance(value, float):
        return float(f"{value:.10g}")
    return value


def canonical(rows: list[dict], keys: tuple[str, ...], values: tuple[str, ...]) -> list[tuple]:
    """Rows as sorted tuples of keys then values; rows with no value at all (fill) dropped."""
    out = []
    for row in rows:
        vals = tuple(_normal(row.get(v)) for v in values)
        if all(v is None for v in vals):
            continue
        out.append(tuple(row.get(k) for k in keys) + vals)
    return sorted(out, key=repr)


def check_equal(query: Query, theirs: list[dict], ours: list[dict]) -> int:
    """Raise unless both answers hold the same rows; returns the row count."""
    a = canonical(theirs, query.keys, query.influx_values)
    b = canonical(ours, query.keys, query.sql_values)
    if a != b:
        diff = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
        raise SystemExit(
            f"{query.name}: answers differ ({len(a)} rows vs {len(b)}); first difference at "
            f"{diff}: {a[diff] if diff is not None else a[len(b) :][:1]} vs "
            f"{b[diff] if diff is not None else b[len(a) :][:1]}"
        )
    return len(a)
