"""Thrift's compact protocol, just enough to edit Parquet page headers and footers in place.

Parquet stores its page headers, footer and page index as Thrift compact structs. The
writer of ``byte_aligned_delta`` changes a few integers in them (page sizes, offsets) and
must keep every other field exactly as pyarrow wrote it, including fields this module has
no name for: structs are decoded into their field ids and wire types, without a schema,
and encoded back the same way (``encode(decode(b)) == b`` for what pyarrow writes).
"""

from __future__ import annotations

import struct as _struct
from dataclasses import dataclass, field
from typing import Union

TRUE, FALSE, BYTE, I16, I32, I64, DOUBLE, BINARY, LIST, SET, MAP, STRUCT = range(1, 13)
_INTEGERS = (BYTE, I16, I32, I64)


class ThriftError(ValueError):
    """The bytes are not a Thrift compact struct this module can read."""


@dataclass
class ThriftList:
    """A list or set: the element wire type and the elements."""

    element_type: int
    items: list[Value]
    kind: int = LIST


@dataclass
class ThriftStruct:
    """A struct's fields in wire order: field id -> (wire type, value)."""

    fields: dict[int, tuple[int, Value]] = field(default_factory=dict)

    def get(self, field_id: int) -> Value | None:
        """The value of a field, None when absent."""
        entry = self.fields.get(field_id)
        return None if entry is None else entry[1]

    def struct(self, field_id: int) -> ThriftStruct | None:
        """A struct-typed field, None when absent."""
        value = self.get(field_id)
        return value if isinstance(value, ThriftStruct) else None

    def integer(self, field_id: int) -> int | None:
        """An integer field, None when absent."""
        value = self.get(field_id)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def set_integer(self, field_id: int, value: int) -> None:
        """Change an integer field that is present, keeping its wire type."""
        wire_type, _ = self.fields[field_id]
        self.fields[field_id] = (wire_type, value)


Value = Union[bool, int, float, bytes, ThriftList, ThriftStruct]  # noqa: UP007 (a runtime alias)


def _read_varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ThriftError("a varint runs past the end of the bytes")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _unzigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def varint(n: int) -> bytes:
    """An unsigned LEB128 varint."""
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def zigzag(n: int) -> bytes:
    """A signed integer as Thrift's (and Parquet's DELTA_BINARY_PACKED) zigzag varint."""
    return varint((n << 1) ^ (n >> 63) if n < 0 else n << 1)


def _read_value(data: bytes | memoryview, pos: int, wire_type: int) -> tuple[Value, int]:
    if wire_type in _INTEGERS:
        if wire_type == BYTE:
            return _struct.unpack_from("b", data, pos)[0], pos + 1
        raw, pos = _read_varint(data, pos)
        return _unzigzag(raw), pos
    if wire_type == BINARY:
        size, pos = _read_varint(data, pos)
        return bytes(data[pos : pos + size]), pos + size
    if wire_type == STRUCT:
        return read_struct(data, pos)
    if wire_type in (LIST, SET):
        header = data[pos]
        pos += 1
        size, element_type = header >> 4, header & 0x0F
        if size == 15:
            size, pos = _read_varint(data, pos)
        items: list[Value] = []
        for _ in range(size):
            if element_type in (TRUE, FALSE):
                items.append(data[pos] == TRUE)
                pos += 1
            else:
                item, pos = _read_value(data, pos, element_type)
                items.append(item)
        return ThriftList(element_type, items, wire_type), pos
    if wire_type == DOUBLE:
        return _struct.unpack_from("<d", data, pos)[0], pos + 8
    raise ThriftError(f"wire type {wire_type} is not read here")


def read_struct(data: bytes | memoryview, pos: int = 0) -> tuple[ThriftStruct, int]:
    """The struct starting at ``pos`` and the position after it."""
    fields: dict[int, tuple[int, Value]] = {}
    last_id = 0
    while True:
        if pos >= len(data):
            raise ThriftError("a struct runs past the end of the bytes")
        header = data[pos]
        pos += 1
        if header == 0:
            return ThriftStruct(fields), pos
        delta, wire_type = header >> 4, header & 0x0F
        if delta:
            field_id = last_id + delta
        else:
            raw, pos = _read_varint(data, pos)
            field_id = _unzigzag(raw)
        if wire_type in (TRUE, FALSE):
            value: Value = wire_type == TRUE
        else:
            value, pos = _read_value(data, pos, wire_type)
        fields[field_id] = (wire_type, value)
        last_id = field_id


def _write_value(out: bytearray, wire_type: int, value: Value) -> None:
    if wire_type == BYTE:
        out += _struct.pack("b", value)
    elif wire_type in _INTEGERS:
        out += zigzag(int(value))  # type: ignore[arg-type]
    elif wire_type == BINARY:
        assert isinstance(value, bytes)
        out += varint(len(value)) + value
    elif wire_type == STRUCT:
        assert isinstance(value, ThriftStruct)
        write_struct(out, value)
    elif wire_type in (LIST, SET):
        assert isinstance(value, ThriftList)
        size = len(value.items)
        out.append((size << 4 | value.element_type) if size < 15 else 0xF0 | value.element_type)
        if size >= 15:
            out += varint(size)
        for item in value.items:
            if value.element_type in (TRUE, FALSE):
                out.append(TRUE if item else FALSE)
            else:
                _write_value(out, value.element_type, item)
    elif wire_type == DOUBLE:
        out += _struct.pack("<d", value)
    else:
        raise ThriftError(f"wire type {wire_type} is not written here")


def write_struct(out: bytearray, value: ThriftStruct) -> None:
    """Append ``value`` in the compact protocol."""
    last_id = 0
    for field_id, (wire_type, item) in value.fields.items():
        if wire_type in (TRUE, FALSE):
            wire_type = TRUE if item else FALSE
        delta = field_id - last_id
        if 0 < delta <= 15:
            out.append(delta << 4 | wire_type)
        else:
            out.append(wire_type)
            out += zigzag(field_id)
        if wire_type not in (TRUE, FALSE):
            _write_value(out, wire_type, item)
        last_id = field_id
    out.append(0)


def encode(value: ThriftStruct) -> bytes:
    """``value`` in the compact protocol."""
    out = bytearray()
    write_struct(out, value)
    return bytes(out)
