"""Helpers shared by the WAL tests."""

from __future__ import annotations

from pathlib import Path

from flight_iox.wal import WriteAheadLog
from flight_iox.wal.segment import ENTRY_HEADER, FILE_HEADER


def open_log(directory: Path, **options: object) -> WriteAheadLog:
    """Open a log and run the recovery replay, as the server does at start."""
    wal = WriteAheadLog(directory, **options)  # type: ignore[arg-type]
    for _ in wal.replay():
        pass
    return wal


def payload_of(sequence: int) -> bytes:
    """A payload whose size varies, so entries do not line up at round offsets."""
    return f"entry {sequence} ".encode() * (1 + sequence % 7)


def entry_offsets(path: Path) -> list[int]:
    """Byte offsets of the entries in a (good) segment file."""
    data = path.read_bytes()
    offsets = []
    offset = FILE_HEADER.size
    while offset < len(data):
        offsets.append(offset)
        length, _, _ = ENTRY_HEADER.unpack_from(data, offset)
        offset += ENTRY_HEADER.size + length
    return offsets


def flip_byte(path: Path, offset: int) -> None:
    """Corrupt one byte of a file in place."""
    with open(path, "r+b") as file:
        file.seek(offset)
        byte = file.read(1)[0]
        file.seek(offset)
        file.write(bytes([byte ^ 0x5A]))
