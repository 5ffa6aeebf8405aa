"""The write-ahead log: every acknowledged write is in it before it is anywhere else.

``log`` frames and fsyncs opaque payloads in segment files; ``codec`` turns a
validated write (Arrow batches per table) into such a payload and back.
"""

from __future__ import annotations

from flight_iox.wal.codec import TableWrite, WalWrite, decode_write, encode_write
from flight_iox.wal.log import WalEntry, WalSnapshot, WriteAheadLog

__all__ = [
    "TableWrite",
    "WalEntry",
    "WalSnapshot",
    "WalWrite",
    "WriteAheadLog",
    "decode_write",
    "encode_write",
]
