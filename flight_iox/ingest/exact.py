"""The exact line-protocol parser: one entry at a time, the full grammar, pure Python.

It follows the Go reference decoder (influxdata/line-protocol v2) byte for byte:
which characters each token may hold, which backslash escapes it honours, where
white space may go, and how a quoted string may run over several lines. The
vectorised path only takes lines that this parser would read the same way.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from flight_iox.columns import FieldType
from flight_iox.ingest.precision import INT64_MAX, INT64_MIN

_NONPRINT = rb"\x00-\x1f\x7f"
# A token is a run of allowed bytes; "\x" where x is escapable counts as x even if x
# is otherwise a delimiter, and a backslash before anything else is a literal backslash.
_MEASUREMENT = re.compile(rb"(?:\\[ ,]|\\|[^\\, " + _NONPRINT + rb"])*")
_KEY = re.compile(rb"(?:\\[,= ]|\\|[^\\,= " + _NONPRINT + rb"])*")  # tag keys, field keys
# Tag values may hold control characters other than CR and LF (the corpus accepts them).
_TAG_VALUE = re.compile(rb"(?:\\[,= ]|\\|[^\\,= \r\n])*")
_STRING = re.compile(rb'(?:\\["\\]|\\|[^"\\])*')
_BARE_VALUE = re.compile(rb"[^, \r\n]*")
_TIME = re.compile(rb"[-0-9]*")
_SPACES = re.compile(rb" *")
_COMMENT = re.compile(rb"#[^" + _NONPRINT + rb"]*")
_UNESCAPE_MEASUREMENT = re.compile(rb"\\([ ,])")
_UNESCAPE_KEY = re.compile(rb"\\([,= ])")
_UNESCAPE_STRING = re.compile(rb'\\(["\\])')

_INTEGER = re.compile(rb"-?[0-9]+")
_UNSIGNED = re.compile(rb"[0-9]+")
_DECIMAL_FLOAT = re.compile(rb"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_HEX_FLOAT = re.compile(rb"-?0[xX](?:_?[0-9a-fA-F])*(?:\.(?:[0-9a-fA-F]_?)*)?[pP][-+]?[0-9_]+")
_BOOLEANS: dict[bytes, bool] = {
    b"t": True, b"T": True, b"true": True, b"True": True, b"TRUE": True,
    b"f": False, b"F": False, b"false": False, b"False": False, b"FALSE": False,
}  # fmt: skip
_UINT64_MAX = 2**64 - 1

# Field kinds, short names for the parsers.
FLOAT = FieldType.FLOAT
INTEGER = FieldType.INTEGER
UNSIGNED = FieldType.UNSIGNED
BOOLEAN = FieldType.BOOLEAN
STRING = FieldType.STRING


@dataclass(frozen=True, slots=True)
class Point:
    """One decoded entry; ``timestamp`` is in the body's unit, None when absent."""

    measurement: str
    tags: list[tuple[str, str]]
    fields: list[tuple[str, str, object]]  # (key, kind, value)
    timestamp: int | None


class EntryError(Exception):
    """A syntax error in one entry, at a byte column of its first line."""

    def __init__(self, column: int, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


def _match(pattern: re.Pattern[bytes], buf: bytes, pos: int) -> re.Match[bytes]:
    """``pattern.match``, for the patterns here that match wherever they are tried.

    Each of them matches the empty string (``_COMMENT`` is tried only at a ``#``),
    so there is always a match; the check says so to the type checker.
    """
    match = pattern.match(buf, pos)
    assert match is not None, pattern.pattern
    return match


def skip_blank(buf: bytes, pos: int) -> tuple[int, bool]:
    """Skip leading spaces and a comment; return (position, whether an entry starts there).

    Blank and comment lines are not entries. A comment with a control character in it
    is an entry (that ``parse_entry`` rejects), as the reference decoder has it.
    """
    pos = _match(_SPACES, buf, pos).end()
    if pos >= len(buf) or buf[pos] == 0x0A:
        return pos, False
    if buf[pos] == 0x0D and (pos + 1 == len(buf) or buf[pos + 1] == 0x0A):
        return pos, False
    if buf[pos] == 0x23:  # '#'
        end = _match(_COMMENT, buf, pos).end()
        if _eol_end(buf, end) is not None:
            return pos, False
    return pos, True


def _eol_end(buf: bytes, pos: int) -> int | None:
    """Position after the line ending at ``pos`` (LF, CRLF, CR at the end, or the end)."""
    if pos >= len(buf):
        return pos
    c = buf[pos]
    if c == 0x0A:
        return pos + 1
    if c == 0x0D and (pos + 1 == len(buf) or buf[pos + 1] == 0x0A):
        return pos + 1 if pos + 1 == len(buf) else pos + 2
    return None


def _text(raw: bytes, what: str, column: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise EntryError(column, f"invalid UTF-8 in {what}") from None


def _char(buf: bytes, pos: int) -> str:
    return "end of input" if pos >= len(buf) else repr(chr(buf[pos]))


def parse_entry(buf: bytes, start: int) -> tuple[Point | EntryError, int]:
    """Parse the entry at ``start``; return it (or its error) and where the next line starts.

    After an error the rest of the line is skipped, so one bad line costs one error.
    """
    parser = _EntryParser(buf, start)
    try:
        point = parser.parse()
    except EntryError as error:
        newline = buf.find(b"\n", parser.pos)
        return error, len(buf) if newline < 0 else newline + 1
    return point, parser.pos


class _EntryParser:
    """Cursor over one entry; ``pos`` is where it has read to."""

    __slots__ = ("buf", "pos", "start")

    def __init__(self, buf: bytes, start: int) -> None:
        self.buf = buf
        self.pos = start
        self.start = start

    def _error(self, pos: int, message: str) -> EntryError:
        self.pos = max(self.pos, pos)
        line_start = self.buf.rfind(b"\n", self.start, pos) + 1 or self.start
        return EntryError(pos - line_start + 1, message)

    def _token(self, pattern: re.Pattern[bytes], unescape: re.Pattern[bytes], what: str) -> str:
        start = self.pos
        raw = _match(pattern, self.buf, start).group()
        self.pos = start + len(raw)
        if b"\\" in raw:
            raw = unescape.sub(rb"\1", raw)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self._error(start, f"invalid UTF-8 in {what}") from None

    def parse(self) -> Point:
        buf = self.buf
        start = self.pos
        measurement = self._token(_MEASUREMENT, _UNESCAPE_MEASUREMENT, "measurement")
        if not measurement:
            raise self._error(start, f"expected measurement name, found {_char(buf, start)}")
        if measurement[0] == "#":
            raise self._error(start, "invalid character in comment line")
        tags = self._tags()
        fields = self._fields()
        return Point(measurement, tags, fields, self._timestamp(bool(fields)))

    def _after_tag_comma(self) -> None:
        buf = self.buf
        if self.pos < len(buf) and buf[self.pos] == 0x2C:  # ','
            self.pos += 1
            if self.pos >= len(buf) or buf[self.pos] in b" \r\n":
                raise self._error(
                    self.pos, f"expected tag key after comma, found {_char(buf, self.pos)}"
                )

    def _tags(self) -> list[tuple[str, str]]:
        buf = self.buf
        tags: list[tuple[str, str]] = []
        self._after_tag_comma()
        while True:
            if self.pos < len(buf) and buf[self.pos] == 0x20:
                self.pos = _match(_SPACES, buf, self.pos).end()
                return tags
            start = self.pos
            key = self._token(_KEY, _UNESCAPE_KEY, "tag key")
            if not key or self.pos >= len(buf) or buf[self.pos] != 0x3D:  # '='
                if key:
                    message = f"expected '=' after tag key {key!r}, found {_char(buf, self.pos)}"
                else:
                    message = f"expected tag key or field, found {_char(buf, start)}"
                raise self._error(self.pos if key else start, message)
            self.pos += 1
            value_start = self.pos
            value = self._token(_TAG_VALUE, _UNESCAPE_KEY, "tag value")
            if not value:
                raise self._error(value_start, f"expected value for tag {key!r}")
            tags.append((key, value))
            if self.pos >= len(buf):
                return tags
            self._after_tag_comma()

    def _fields(self) -> list[tuple[str, str, object]]:
        buf = self.buf
        fields: list[tuple[str, str, object]] = []
        while True:
            start = self.pos
            key = self._token(_KEY, _UNESCAPE_KEY, "field key")
            if not key:
                raise self._error(start, f"expected field key, found {_char(buf, start)}")
            if self.pos >= len(buf) or buf[self.pos] != 0x3D:
                raise self._error(
                    self.pos, f"expected '=' after field key {key!r}, found {_char(buf, self.pos)}"
                )
            self.pos += 1
            fields.append(self._field_value(key))
            if self.pos >= len(buf):
                return fields
            c = buf[self.pos]
            if c == 0x2C:
                self.pos += 1
                continue
            if c not in b" \r\n":
                raise self._error(self.pos, f"unexpected character {chr(c)!r} after field {key!r}")
            return fields

    def _field_value(self, key: str) -> tuple[str, str, object]:
        buf = self.buf
        start = self.pos
        if start >= len(buf):
            raise self._error(start, f"expected value for field {key!r}, found end of input")
        first = buf[start]
        if first == 0x22:  # '"'
            self.pos += 1
            text = self._token(_STRING, _UNESCAPE_STRING, f"string value of field {key!r}")
            if self.pos >= len(buf):
                raise self._error(start, f"unterminated string value for field {key!r}")
            self.pos += 1
            return key, STRING, text
        raw = _match(_BARE_VALUE, buf, start).group()
        self.pos = start + len(raw)
        try:
            kind, value = _bare_value(raw)
        except ValueError as error:
            raise self._error(start, f"invalid value for field {key!r}: {error}") from None
        return key, kind, value

    def _timestamp(self, has_fields: bool) -> int | None:
        buf = self.buf
        end = _eol_end(buf, _match(_SPACES, buf, self.pos).end())
        if end is not None:
            self.pos = end
            return None
        self.pos = _match(_SPACES, buf, self.pos).end()
        start = self.pos
        raw = _match(_TIME, buf, start).group()
        self.pos = start + len(raw)
        if self.pos < len(buf) and buf[self.pos] not in b" \r\n":
            raise self._error(start, "invalid timestamp")
        end = _eol_end(buf, _match(_SPACES, buf, self.pos).end())
        if end is None:
            raise self._error(self.pos, "unexpected text after timestamp")
        if raw and not _INTEGER.fullmatch(raw):
            raise self._error(start, f"invalid timestamp {raw.decode()!r}")
        value = int(raw) if raw else None
        if value is not None and not INT64_MIN <= value <= INT64_MAX:
            raise self._error(start, f"timestamp {raw.decode()} out of range")
        self.pos = end
        return value


def _bare_value(raw: bytes) -> tuple[str, object]:
    """Kind and value of an unquoted field value; ValueError says what is wrong."""
    if not raw:
        raise ValueError("empty value")
    first = raw[0]
    if first in b"tTfF":
        if raw in _BOOLEANS:
            return BOOLEAN, _BOOLEANS[raw]
        raise ValueError(f"invalid boolean {_show(raw)}")
    if first not in b"-0123456789.":
        raise ValueError(f"unrecognised value {_show(raw)}")
    last = raw[-1]
    if last == 0x69:  # 'i'
        digits = raw[:-1]
        if not _INTEGER.fullmatch(digits):
            raise ValueError(f"invalid integer {_show(raw)}")
        number = int(digits)
        if not INT64_MIN <= number <= INT64_MAX:
            raise ValueError(f"integer {_show(raw)} out of range")
        return INTEGER, number
    if last == 0x75:  # 'u'
        digits = raw[:-1]
        if not _UNSIGNED.fullmatch(digits):
            raise ValueError(f"invalid unsigned integer {_show(raw)}")
        number = int(digits)
        if number > _UINT64_MAX:
            raise ValueError(f"unsigned integer {_show(raw)} out of range")
        return UNSIGNED, number
    return FLOAT, parse_float(raw)


def parse_float(raw: bytes) -> float:
    """A float as Go's ParseFloat reads it, refusing what is not a finite number."""
    if _DECIMAL_FLOAT.fullmatch(raw):
        number = float(raw)
    elif _HEX_FLOAT.fullmatch(raw) and b"__" not in raw and not raw.endswith(b"_"):
        number = float.fromhex(raw.replace(b"_", b"").decode())
    else:
        raise ValueError(f"invalid float {_show(raw)}")
    if math.isinf(number) or math.isnan(number):
        raise ValueError(f"float {_show(raw)} out of range")
    return number


def _show(raw: bytes) -> str:
    return repr(raw.decode("utf-8", "backslashreplace"))
