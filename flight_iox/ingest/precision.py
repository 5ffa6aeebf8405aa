"""Timestamp precision of a write: names, multipliers, and InfluxDB 3's ``auto`` guess."""

from __future__ import annotations

from enum import StrEnum

import numpy as np

from flight_iox.errors import InvalidPrecisionError


class Precision(StrEnum):
    """The unit of the timestamps in a line-protocol body."""

    NANOSECOND = "nanosecond"
    MICROSECOND = "microsecond"
    MILLISECOND = "millisecond"
    SECOND = "second"
    MINUTE = "minute"
    HOUR = "hour"
    AUTO = "auto"

    @property
    def multiplier(self) -> int:
        """Nanoseconds per unit (``auto`` has none: it is decided per timestamp)."""
        if self is Precision.AUTO:
            raise ValueError("auto precision has no fixed multiplier")
        return MULTIPLIERS[self]


MULTIPLIERS: dict[Precision, int] = {
    Precision.NANOSECOND: 1,
    Precision.MICROSECOND: 1_000,
    Precision.MILLISECOND: 1_000_000,
    Precision.SECOND: 1_000_000_000,
    Precision.MINUTE: 60_000_000_000,
    Precision.HOUR: 3_600_000_000_000,
}

# Query-parameter spelling -> precision: v2/v3 short names, v1's n/u/m/h, v3 long names.
PRECISION_NAMES: dict[str, Precision] = {
    "ns": Precision.NANOSECOND,
    "n": Precision.NANOSECOND,
    "nanosecond": Precision.NANOSECOND,
    "us": Precision.MICROSECOND,
    "u": Precision.MICROSECOND,
    "microsecond": Precision.MICROSECOND,
    "ms": Precision.MILLISECOND,
    "millisecond": Precision.MILLISECOND,
    "s": Precision.SECOND,
    "second": Precision.SECOND,
    "m": Precision.MINUTE,
    "h": Precision.HOUR,
    "auto": Precision.AUTO,
}

# ``auto`` (as InfluxDB 3 guesses it): abs(ts) // 1e9 below 5 means seconds, below
# 5_000 milliseconds, below 5_000_000 microseconds, else nanoseconds. As bounds on abs(ts):
_AUTO_BOUNDS: tuple[tuple[int, int], ...] = (
    (5 * 1_000_000_000, 1_000_000_000),
    (5_000 * 1_000_000_000, 1_000_000),
    (5_000_000 * 1_000_000_000, 1_000),
)

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def parse_precision(text: str | None) -> Precision:
    """The precision named by a ``precision`` query parameter; absent or empty means ns."""
    if not text:
        return Precision.NANOSECOND
    try:
        return PRECISION_NAMES[text]
    except KeyError:
        accepted = ", ".join(PRECISION_NAMES)
        raise InvalidPrecisionError(
            f"invalid precision {text!r}: expected one of {accepted}"
        ) from None


def multiplier_for(precision: Precision, timestamp: int) -> int:
    """Nanoseconds per unit for one timestamp (resolves ``auto`` by magnitude)."""
    if precision is not Precision.AUTO:
        return MULTIPLIERS[precision]
    magnitude = abs(timestamp)
    for bound, multiplier in _AUTO_BOUNDS:
        if magnitude < bound:
            return multiplier
    return 1


def to_nanoseconds(precision: Precision, timestamp: int) -> int | None:
    """``timestamp`` in ns, or None when that overflows int64."""
    ns = timestamp * multiplier_for(precision, timestamp)
    return ns if INT64_MIN <= ns <= INT64_MAX else None


def multipliers_for(precision: Precision, timestamps: np.ndarray) -> np.ndarray:
    """Vectorised ``multiplier_for``: one multiplier (int64) per timestamp."""
    if precision is not Precision.AUTO:
        return np.full(len(timestamps), MULTIPLIERS[precision], dtype=np.int64)
    # abs() in uint64 so that INT64_MIN does not wrap to a negative number.
    magnitude = np.where(
        timestamps < 0, (-(timestamps + 1)).astype(np.uint64) + 1, timestamps.astype(np.uint64)
    )
    result = np.ones(len(timestamps), dtype=np.int64)
    for bound, multiplier in reversed(_AUTO_BOUNDS):
        result[magnitude < bound] = multiplier
    return result


def scale_to_nanoseconds(
    precision: Precision, timestamps: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised ``to_nanoseconds``: (ns values, mask of the ones that overflow)."""
    multipliers = multipliers_for(precision, timestamps)
    limit = INT64_MAX // multipliers
    overflow = (timestamps > limit) | (timestamps < -limit - (multipliers == 1))
    with np.errstate(over="ignore"):
        return np.where(overflow, 0, timestamps * multipliers), overflow
