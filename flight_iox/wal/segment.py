"""The on-disk format of one WAL segment file, with no I/O policy in it.

A segment is named after the sequence of its first entry, zero-padded so that
names sort in sequence order (``00000000000000000001.wal``). It starts with a
file header and holds entries back to back::

    file header (24 bytes): magic "FIOXWAL\\0", u32 version, u32 reserved (0),
                            u64 first sequence (the same number as the name)
    entry:  u32 payload length, u32 checksum, u64 sequence, payload

All integers are little-endian. The checksum is ``zlib.crc32`` of the payload
followed by the length and sequence fields, so a torn or bit-flipped header is
caught as surely as a damaged payload. Within a segment sequences are contiguous.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

MAGIC = b"FIOXWAL\x00"
VERSION = 1
SUFFIX = ".wal"
FILE_HEADER = struct.Struct("<8sIIQ")
ENTRY_HEADER = struct.Struct("<IIQ")
_CRC_FIELDS = struct.Struct("<IQ")
_SEQUENCE = struct.Struct("<Q")
_NAME = re.compile(r"^(\d{20})\.wal$")
# How many sequence numbers past a bad entry to look for when deciding whether
# real data follows it (a torn tail) or not (corruption in the middle).
_LOOKAHEAD_SEQUENCES = 64


def segment_name(first_sequence: int) -> str:
    """The file name of the segment whose first entry has ``first_sequence``."""
    return f"{first_sequence:020d}{SUFFIX}"


def list_segments(directory: Path) -> list[tuple[int, Path]]:
    """``(first sequence, path)`` of every segment file in ``directory``, in order."""
    found = []
    for path in directory.iterdir():
        match = _NAME.match(path.name)
        if match and path.is_file():
            found.append((int(match.group(1)), path))
    found.sort()
    return found


def file_header(first_sequence: int) -> bytes:
    """The header a new segment starts with."""
    return FILE_HEADER.pack(MAGIC, VERSION, 0, first_sequence)


def _checksum(length: int, sequence: int, payload_crc: int) -> int:
    return zlib.crc32(_CRC_FIELDS.pack(length, sequence), payload_crc)


def new_frame(payload: bytes) -> tuple[bytearray, int]:
    """A record with room for its header, and the payload's CRC (both made outside any lock)."""
    frame = bytearray(ENTRY_HEADER.size + len(payload))
    frame[ENTRY_HEADER.size :] = payload
    return frame, zlib.crc32(payload)


def seal_frame(frame: bytearray, sequence: int, payload_crc: int) -> None:
    """Fill in the header of a record from :func:`new_frame` once its sequence is known."""
    length = len(frame) - ENTRY_HEADER.size
    ENTRY_HEADER.pack_into(frame, 0, length, _checksum(length, sequence, payload_crc), sequence)


@dataclass
class SegmentScan:
    """What reading one segment found: its good entries and the first problem, if any.

    ``good_end`` is the offset just past the last good entry; everything after
    it is suspect. ``fatal`` marks problems a crash cannot cause (bad magic,
    a checksummed entry with the wrong sequence), which are corruption wherever
    they are.
    """

    first_sequence: int
    entries: list[tuple[int, memoryview]] = field(default_factory=list)
    good_end: int = 0
    bad_offset: int | None = None
    reason: str = ""
    fatal: bool = False
    torn_header: bool = False

    @property
    def next_sequence(self) -> int:
        """The sequence the entry after the last good one would have."""
        return self.first_sequence + len(self.entries)


def _check_header(data: bytes, scan: SegmentScan) -> bool:
    if len(data) < FILE_HEADER.size or not any(data[: FILE_HEADER.size]):
        scan.bad_offset, scan.torn_header = 0, True
        scan.reason = f"segment header incomplete ({len(data)} bytes)"
        return False
    magic, version, _, first = FILE_HEADER.unpack_from(data)
    problem = ""
    if magic != MAGIC:
        problem = f"not a WAL segment (magic {magic!r})"
    elif version != VERSION:
        problem = f"unsupported segment version {version} (this build reads {VERSION})"
    elif first != scan.first_sequence:
        problem = f"header says first sequence {first}, file name says {scan.first_sequence}"
    if problem:
        scan.bad_offset, scan.reason, scan.fatal = 0, problem, True
        return False
    return True


def scan_segment(data: bytes, first_sequence: int) -> SegmentScan:
    """Parse a segment's bytes, stopping at the first entry that is not good."""
    scan = SegmentScan(first_sequence)
    if not _check_header(data, scan):
        return scan
    view = memoryview(data)
    size = len(data)
    offset = FILE_HEADER.size
    expected = first_sequence
    while offset < size:
        if size - offset < ENTRY_HEADER.size:
            scan.bad_offset, scan.reason = offset, "incomplete entry header"
            break
        length, crc, sequence = ENTRY_HEADER.unpack_from(data, offset)
        end = offset + ENTRY_HEADER.size + length
        if end > size:
            scan.bad_offset = offset
            scan.reason = f"entry of {length} bytes runs past the end of the file ({size} bytes)"
            break
        payload = view[offset + ENTRY_HEADER.size : end]
        if _checksum(length, sequence, zlib.crc32(payload)) != crc:
            scan.bad_offset = offset
            zeros = not any(data[offset : offset + ENTRY_HEADER.size])
            scan.reason = "zero bytes instead of an entry" if zeros else "checksum mismatch"
            break
        if sequence != expected:
            scan.bad_offset, scan.fatal = offset, True
            scan.reason = f"entry has sequence {sequence}, expected {expected}"
            break
        scan.entries.append((sequence, payload))
        expected += 1
        offset = end
    scan.good_end = offset if scan.bad_offset is None else scan.bad_offset
    return scan


def valid_entry_after(data: bytes, offset: int, next_sequence: int) -> int | None:
    """Offset of a good entry starting after ``offset`` with a plausible sequence, if any.

    A crash tears at most the entry being written, so a good entry *after* a bad
    one means the bad one is damage in the middle of the log, not a torn tail.
    Rather than try every offset, look for the next few sequence numbers, which
    sit at a fixed place in each entry header.
    """
    seq_at = ENTRY_HEADER.size - _SEQUENCE.size
    for sequence in range(next_sequence, next_sequence + _LOOKAHEAD_SEQUENCES):
        needle = _SEQUENCE.pack(sequence)
        hit = data.find(needle, offset + 1 + seq_at)
        while hit != -1:
            start = hit - seq_at
            length, crc, _ = ENTRY_HEADER.unpack_from(data, start)
            end = start + ENTRY_HEADER.size + length
            if end <= len(data):
                payload_crc = zlib.crc32(memoryview(data)[start + ENTRY_HEADER.size : end])
                if _checksum(length, sequence, payload_crc) == crc:
                    return start
            hit = data.find(needle, hit + 1)
    return None
