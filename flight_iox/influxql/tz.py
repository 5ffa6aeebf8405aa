"""``tz('...')``: UTC offsets of a time zone as arrays, for bucket alignment and printing.

The offsets are found once per query as the zone's transitions between two instants (daily
samples, then bisection to the second), so that every per-row step is numpy
(``searchsorted``) or a SQL ``CASE`` over those few transitions, never a Python call per row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.errors import QueryError

SECOND = 1_000_000_000
DAY = 86_400 * SECOND
LOWEST = 0  # 1970
HIGHEST = 4_102_444_800 * SECOND  # 2100


def zone_info(name: str) -> ZoneInfo:
    """The zone, or InfluxDB's error for an unknown name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:
        raise QueryError(f"unable to find time zone {name}") from error


def _offset_at(zone: ZoneInfo, seconds: int) -> int:
    when = dt.datetime.fromtimestamp(seconds, dt.UTC).astimezone(zone)
    delta = when.utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


@dataclass(frozen=True)
class Offsets:
    """A zone's UTC offsets (nanoseconds) as steps: ``offsets[i]`` holds from ``starts[i]``."""

    starts: np.ndarray  # int64 UTC nanos, starts[0] is the lowest instant covered
    offsets: np.ndarray  # int64 nanos

    def at(self, nanos: np.ndarray) -> np.ndarray:
        """The offset at each UTC instant."""
        index = np.searchsorted(self.starts, nanos, side="right") - 1
        return self.offsets[np.clip(index, 0, self.offsets.size - 1)]

    def to_local(self, nanos: np.ndarray) -> np.ndarray:
        return nanos + self.at(nanos)

    def to_utc(self, local: np.ndarray) -> np.ndarray:
        """A local wall time back to UTC (as InfluxDB 1.x: the offset at the first guess)."""
        guess = local - self.at(local)
        return local - self.at(guess)

    def sql(self, column: str) -> str:
        """SQL for the offset of a ``timestamp`` column, as an INTERVAL."""
        parts = [
            f"WHEN {column} < to_timestamp_nanos({int(start)}) "
            f"THEN INTERVAL '{int(previous)} nanoseconds'"
            for start, previous in zip(self.starts[1:], self.offsets[:-1], strict=True)
        ]
        last = f"INTERVAL '{int(self.offsets[-1])} nanoseconds'"
        if not parts:
            return last
        return f"(CASE {' '.join(parts)} ELSE {last} END)"


@lru_cache(maxsize=64)
def offsets(name: str, lower: int = LOWEST, upper: int = HIGHEST) -> Offsets:
    """The zone's offsets between two UTC instants (nanoseconds), a day either side."""
    zone = zone_info(name)
    lo = (lower - DAY) // SECOND
    hi = (upper + DAY) // SECOND
    starts, values = [lo * SECOND], [_offset_at(zone, lo)]
    day = 86_400
    t = lo
    while t < hi:
        nxt = min(t + day, hi)
        current = _offset_at(zone, t)
        if _offset_at(zone, nxt) != current:
            a, b = t, nxt  # the change lies in (a, b]
            while b - a > 1:
                mid = (a + b) // 2
                if _offset_at(zone, mid) == current:
                    a = mid
                else:
                    b = mid
            starts.append(b * SECOND)
            values.append(_offset_at(zone, b))
        t = nxt
    return Offsets(np.array(starts, dtype=np.int64), np.array(values, dtype=np.int64) * SECOND)


def rfc3339_with_offset(nanos: np.ndarray, name: str) -> list[str]:
    """Go's ``RFC3339Nano`` in a zone: local time, then ``Z`` (offset 0) or ``+hh:mm``."""
    if nanos.size == 0:
        return []
    steps = offsets(name, int(nanos.min()), int(nanos.max()))
    off = steps.at(nanos)
    text = np.datetime_as_string((nanos + off).astype("datetime64[ns]"), unit="ns")
    values, inverse = np.unique(off, return_inverse=True)
    suffixes = []
    for value in values.tolist():  # one per distinct offset
        minutes = abs(value) // (60 * SECOND)
        sign = "+" if value >= 0 else "-"
        suffixes.append("Z" if value == 0 else f"{sign}{minutes // 60:02d}:{minutes % 60:02d}")
    trimmed = pc.replace_substring_regex(pa.array(text), r"\.?0+$", "")
    suffix = pa.array(suffixes).take(pa.array(inverse.reshape(-1)))
    return pc.binary_join_element_wise(trimmed, suffix, "").to_pylist()
