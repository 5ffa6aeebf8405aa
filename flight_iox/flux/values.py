"""The values a Flux program computes with, before any table is read.

Scalars are Python values (``int``, ``float``, ``str``, ``bool``, ``None``) plus the three
types Flux adds (``Duration``, ``Time``, ``Regex``); records are dicts, arrays lists.
Functions are ``Builtin`` (planned onto DataFusion by this package) or ``Lambda`` (a
function literal with the variables it closes over: compiled to SQL where a
transformation takes it, such as ``filter`` and ``map``).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flight_iox.errors import QueryError
from flight_iox.flux import ast
from flight_iox.flux.lexer import DURATION_NANOS

if TYPE_CHECKING:
    from flight_iox.flux.interpreter import Call


@dataclass(frozen=True)
class Duration:
    """A Flux duration: nanoseconds plus calendar months (``mo``, ``y``)."""

    nanos: int
    months: int = 0

    @classmethod
    def of(cls, parts: tuple[tuple[int, str], ...], pos: ast.Pos) -> Duration:
        total = months = 0
        for amount, unit in parts:
            if unit == "mo":
                months += amount
            elif unit == "y":
                months += 12 * amount
            else:
                total += amount * DURATION_NANOS[unit]
        return cls(total, months)

    def __neg__(self) -> Duration:
        return Duration(-self.nanos, -self.months)

    def fixed(self, pos: ast.Pos | str) -> int:
        """The nanoseconds of a duration that must not hold months (a window's ``every``)."""
        if self.months:
            raise QueryError(
                f"error {pos}: calendar durations (mo, y) are supported in range() and time "
                "arithmetic only, not as window lengths"
            )
        return self.nanos


def shift(nanos: int, by: Duration) -> int:
    """A time moved by a duration, months by the calendar (clamped to the month's end)."""
    if by.months:
        moment = datetime.fromtimestamp(nanos // 1_000_000_000, UTC)
        month = moment.month - 1 + by.months
        year, month = moment.year + month // 12, month % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        moved = moment.replace(year=year, month=month, day=day)
        nanos = int(moved.timestamp()) * 1_000_000_000 + nanos % 1_000_000_000
    return nanos + by.nanos


@dataclass(frozen=True)
class Time:
    """A point in time, nanoseconds since the epoch (UTC)."""

    nanos: int

    @classmethod
    def parse(cls, text: str, pos: ast.Pos | None = None) -> Time:
        """RFC 3339 (``2020-01-01T00:00:00.5Z``) or a date (``2020-01-01``, midnight UTC)."""
        try:
            if "T" not in text:
                text += "T00:00:00Z"
            fraction = 0
            head, _, rest = text.partition(".")
            if rest:
                digits = len(rest) - len(rest.lstrip("0123456789"))
                fraction = int(rest[:digits].ljust(9, "0")[:9])
                text = head + rest[digits:]
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            where = f"error {pos}: " if pos else ""
            raise QueryError(f"{where}invalid time {text!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = int(moment.timestamp())
        return cls(seconds * 1_000_000_000 + fraction)


@dataclass(frozen=True)
class Regex:
    """A regex literal (RE2 syntax, as Go's ``regexp``)."""

    pattern: str


@dataclass(frozen=True)
class Lambda:
    """A function literal and the scope it was written in."""

    node: ast.FunctionLit
    scope: Mapping[str, object]

    @property
    def param_names(self) -> list[str]:
        return [p.name for p in self.node.params]


@dataclass(frozen=True)
class Builtin:
    """A function this package implements; ``impl`` gets the evaluated call."""

    name: str
    impl: Callable[[Call], object] = field(compare=False)


Record = dict
