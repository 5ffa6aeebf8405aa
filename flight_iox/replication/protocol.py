"""What replication sends over Flight: WAL entries by sequence, and small JSON requests.

An entry travels as a WAL payload (``wal/codec.py``) of the write its leader
acknowledged, and the replica appends it under the same sequence: a replica's WAL holds
its leader's entries, and "applied through N" means the same on both sides. A frame of entries
is::

    8 bytes  magic "FIOXREP1"
    u32      length of a JSON header, then the header (UTF-8)
    per entry: u64 sequence, u32 crc32 of the payload, u64 payload length, payload

Sequences in a frame are contiguous and ascending (the decoder checks it, and each
payload's checksum), so a frame damaged or assembled wrongly is refused whole instead
of leaving a gap in a replica's log.
"""

from __future__ import annotations

import itertools
import json
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flight_iox.ports import AcknowledgedWrite
from flight_iox.wal import TableWrite, WalWrite, encode_write

APPEND_ACTION = "iox.replication.append"  # push: the leader ships entries to a replica
PULL_ACTION = "iox.replication.pull"  # pull: a follower asks for entries after a sequence
MAGIC = b"FIOXREP1"
FRAME_BYTES = 8 * 1024 * 1024  # payload bytes per frame (more entries wait for the next)
_HEADER = struct.Struct("<I")
_ENTRY = struct.Struct("<QIQ")


class ProtocolError(ValueError):
    """A frame that is not a well-formed run of entries."""


@dataclass(frozen=True)
class Frame:
    """Entries ``(sequence, payload)`` in order, with what the sender says about them."""

    entries: tuple[tuple[int, bytes], ...]
    header: dict[str, Any] = field(default_factory=dict)

    @property
    def first(self) -> int | None:
        """The first entry's sequence (None: no entries)."""
        return self.entries[0][0] if self.entries else None

    @property
    def last(self) -> int | None:
        """The last entry's sequence (None: no entries)."""
        return self.entries[-1][0] if self.entries else None

    @property
    def payload_bytes(self) -> int:
        """The bytes of every payload together."""
        return sum(len(p) for _, p in self.entries)


def payloads(
    writes: Sequence[AcknowledgedWrite], max_bytes: int = FRAME_BYTES
) -> list[tuple[int, bytes]]:
    """``(sequence, WAL payload)`` of acknowledged writes read from the WAL feed, the first
    ones up to ``max_bytes`` together (at least one): a frame must travel, and be fsync'd,
    within one call's timeout."""
    entries: list[tuple[int, bytes]] = []
    total = 0
    for w in writes:
        payload = encode_write(WalWrite(w.database, [TableWrite(t, b) for t, b in w.tables]))
        total += len(payload)
        if entries and total > max_bytes:
            break
        entries.append((w.sequence, payload))
    return entries


def encode_frame(entries: Sequence[tuple[int, bytes]], header: dict[str, Any]) -> bytes:
    """One frame of contiguous entries (``ValueError`` if they are not)."""
    _check_contiguous([s for s, _ in entries])
    head = json.dumps(header, separators=(",", ":")).encode()
    parts: list[bytes] = [MAGIC, _HEADER.pack(len(head)), head]
    for sequence, payload in entries:
        parts += [_ENTRY.pack(sequence, zlib.crc32(payload), len(payload)), payload]
    return b"".join(parts)


def decode_frame(data: bytes) -> Frame:
    """The entries and header of a frame; ``ProtocolError`` naming what is wrong."""
    if data[: len(MAGIC)] != MAGIC:
        raise ProtocolError("not a replication frame (bad magic)")
    offset = len(MAGIC)
    (head_len,) = _unpack(_HEADER, data, offset)
    offset += _HEADER.size
    if offset + head_len > len(data):
        raise ProtocolError("replication frame truncated in its header")
    try:
        header = json.loads(data[offset : offset + head_len])
    except ValueError as error:
        raise ProtocolError(f"replication frame header is not JSON: {error}") from None
    if not isinstance(header, dict):
        raise ProtocolError("replication frame header is not a JSON object")
    offset += head_len
    entries: list[tuple[int, bytes]] = []
    while offset < len(data):
        sequence, crc, length = _unpack(_ENTRY, data, offset)
        offset += _ENTRY.size
        if offset + length > len(data):
            raise ProtocolError(f"replication frame truncated in entry {sequence}")
        payload = data[offset : offset + length]
        if zlib.crc32(payload) != crc:
            raise ProtocolError(f"entry {sequence} fails its checksum")
        entries.append((sequence, payload))
        offset += length
    try:
        _check_contiguous([s for s, _ in entries])
    except ValueError as error:
        raise ProtocolError(str(error)) from None
    return Frame(tuple(entries), header)


def _unpack(layout: struct.Struct, data: bytes, offset: int) -> tuple[Any, ...]:
    if offset + layout.size > len(data):
        raise ProtocolError("replication frame truncated")
    return layout.unpack_from(data, offset)


def _check_contiguous(sequences: list[int]) -> None:
    for before, after in itertools.pairwise(sequences):
        if after != before + 1:
            raise ValueError(f"entries not contiguous: {after} follows {before}")


@dataclass(frozen=True)
class PullRequest:
    """A follower's question: entries after ``after``, waiting up to ``wait`` seconds."""

    follower: str
    after: int
    limit: int = 1024
    wait: float = 1.0

    def encode(self) -> bytes:
        """As the action body."""
        return json.dumps(self.__dict__).encode()

    @classmethod
    def decode(cls, body: bytes) -> PullRequest:
        """From an action body; ``ProtocolError`` naming a bad field."""
        try:
            raw = json.loads(body)
            request = cls(
                str(raw["follower"]), int(raw["after"]), int(raw.get("limit", 1024)),
                float(raw.get("wait", 1.0)),
            )  # fmt: skip
        except (ValueError, KeyError, TypeError) as error:
            raise ProtocolError(f"bad pull request: {error!r}") from None
        if request.after < 0 or not 0 < request.limit <= 65536 or not 0 <= request.wait <= 60:
            raise ProtocolError(
                "bad pull request: after must be >= 0, limit in 1..65536, wait in 0..60 s"
            )
        return request
