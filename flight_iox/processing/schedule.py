"""When a scheduled trigger fires next: ``every:`` on interval boundaries, ``cron:`` by croniter.

``every:10m`` fires at each multiple of ten minutes since the epoch (UTC), so a
downsampler's windows line up with the clock whenever the server started. Cron
expressions are read in UTC: five fields, or six with seconds first (InfluxDB 3's form).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from croniter import croniter

from flight_iox.processing.triggers import TriggerSpec, cron_fields


def next_fire(spec: TriggerSpec, after: float) -> float:
    """The first fire time strictly after ``after`` (seconds since the epoch)."""
    if spec.kind == "every":
        return (math.floor(after / spec.seconds) + 1) * spec.seconds
    if spec.kind == "cron":
        expression, seconds_first = cron_fields(spec.value)
        start = datetime.fromtimestamp(after, tz=UTC)
        fire: float = croniter(expression, start, second_at_beginning=seconds_first).get_next(float)
        return fire
    raise ValueError(f"trigger {spec.kind!r} is not scheduled")
