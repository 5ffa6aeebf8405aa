"""``LineBuilder``: the line-protocol builder InfluxDB 3 gives every plugin as a builtin.

It runs in the plugin worker, so it imports the standard library only. Escaping
follows the line protocol: commas and spaces in measurements; commas, equals signs
and spaces in tag keys, tag values and field keys; backslashes and double quotes in
string fields. Errors are InfluxDB 3's classes, by name.
"""

from __future__ import annotations

import math


class InfluxDBError(Exception):
    """Base of the LineBuilder errors."""


class InvalidMeasurementError(InfluxDBError):
    """The measurement name is empty or contains spaces."""


class InvalidKeyError(InfluxDBError):
    """A tag or field key is empty or contains spaces, commas or equals signs."""


class InvalidLineError(InfluxDBError):
    """The line cannot be built (no fields)."""


def _escape_key(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _check_key(key: str, kind: str) -> None:
    if not key:
        raise InvalidKeyError(f"{kind} key cannot be empty")
    for char, name in ((" ", "spaces"), (",", "commas"), ("=", "equals signs")):
        if char in key:
            raise InvalidKeyError(f"{kind} key {key!r} cannot contain {name}")


class LineBuilder:
    """Builds one line of line protocol: ``LineBuilder("cpu").tag(...).float64_field(...)``."""

    def __init__(self, measurement: str) -> None:
        if not measurement or " " in measurement:
            raise InvalidMeasurementError(f"invalid measurement name {measurement!r}")
        self.measurement = measurement
        self.tags: dict[str, str] = {}
        self.fields: dict[str, str] = {}
        self.timestamp_ns: int | None = None

    def tag(self, key: str, value: object) -> LineBuilder:
        """Add a tag (the value is stringified)."""
        _check_key(key, "tag")
        self.tags[key] = str(value)
        return self

    def int64_field(self, key: str, value: int) -> LineBuilder:
        """Add a signed integer field."""
        _check_key(key, "field")
        number = int(value)
        if not -(2**63) <= number < 2**63:
            raise ValueError(f"int64 field {key!r} out of range: {number}")
        self.fields[key] = f"{number}i"
        return self

    def uint64_field(self, key: str, value: int) -> LineBuilder:
        """Add an unsigned integer field (negative values raise ``ValueError``)."""
        _check_key(key, "field")
        number = int(value)
        if number < 0:
            raise ValueError(f"uint64 field {key!r} cannot be negative")
        if number >= 2**64:
            raise ValueError(f"uint64 field {key!r} out of range: {number}")
        self.fields[key] = f"{number}u"
        return self

    def float64_field(self, key: str, value: float) -> LineBuilder:
        """Add a float field (integral values get a trailing ``.0``)."""
        _check_key(key, "field")
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"float64 field {key!r} must be finite, got {number}")
        self.fields[key] = f"{int(number)}.0" if number.is_integer() else repr(number)
        return self

    def string_field(self, key: str, value: str) -> LineBuilder:
        """Add a string field (backslashes and double quotes escaped)."""
        _check_key(key, "field")
        escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
        self.fields[key] = f'"{escaped}"'
        return self

    def bool_field(self, key: str, value: bool) -> LineBuilder:
        """Add a boolean field (``t`` or ``f``)."""
        _check_key(key, "field")
        self.fields[key] = "t" if value else "f"
        return self

    def time_ns(self, timestamp_ns: int) -> LineBuilder:
        """Set the line's timestamp, in nanoseconds since the epoch."""
        self.timestamp_ns = int(timestamp_ns)
        return self

    def build(self) -> str:
        """The line as line protocol (``InvalidLineError`` without fields)."""
        if not self.fields:
            raise InvalidLineError(f"line for {self.measurement!r} has no fields")
        head = self.measurement.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ")
        for key, value in self.tags.items():
            head += f",{_escape_key(key)}={_escape_key(value)}"
        fields = ",".join(f"{_escape_key(k)}={v}" for k, v in self.fields.items())
        line = f"{head} {fields}"
        return line if self.timestamp_ns is None else f"{line} {self.timestamp_ns}"


PLUGIN_BUILTINS = {
    "LineBuilder": LineBuilder,
    "InfluxDBError": InfluxDBError,
    "InvalidMeasurementError": InvalidMeasurementError,
    "InvalidKeyError": InvalidKeyError,
    "InvalidLineError": InvalidLineError,
}
