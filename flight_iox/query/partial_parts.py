"""What a statement's partial aggregates are kept for: each file, and the buffer's settled rows.

A partial is keyed by the database, the caller's scope, the part's identity (a file's path,
rows, size, commit sequence and time range; a buffer segment's buffer, epoch, place and
version) and a digest of the table's schema and the normalised partial statement.

Issue 20's soak traced each query's time (2026-12-05): after the per-file partials, most of
a query was aggregating the write buffer again, every buffered row at every run, and it grew
with the buffer (``bench/buffer_segments.py``: 9.6 ms at 250,000 rows, 20.6 ms at a million,
in process; kept segments make those 7.2 and 10.2 ms). Yet the buffer is mostly settled:
writes append, and a late row rewrites only the rows from its time on; the buffer records
where each rewrite of its epoch began (``TableSnapshot.version``, ``buffer.py``).

So the buffered rows are cut into fixed segments of ``SEGMENT_ROWS`` rows, each aggregated
once and kept like a file's partial, keyed by the buffer, its epoch, the segment's place and
the version of the rows up to its end; only the rest (less than a segment) is aggregated at
each run. Two writers whose batches cross by a few milliseconds rewrite only the newest rows,
so only the last segment is named anew. A persist starts a new epoch (the rows became a file,
whose partial the persister made ahead), so the kept segments of the old one are never asked
for again and age out of the store by its byte bound. This holds only for a buffer in no
overlap group: rows that may share keys with a file are deduplicated with it at every run.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable

import pyarrow as pa

from flight_iox.engine.buffer import TableSnapshot
from flight_iox.query.partial_plan import PartialShape
from flight_iox.query.scan_needs import ScanNeeds
from iox_catalog.files import DataFile

RECENT_STATEMENTS = 16  # statements a new file is aggregated for before it joins its table
SEGMENT_ROWS = 131_072  # two DataFusion batches: a segment costs one run of a few ms


def settled_segments(
    snapshot: TableSnapshot, size: int = SEGMENT_ROWS, start: int = 0, stop: int | None = None
) -> tuple[list[tuple[Hashable, int, int]], int]:
    """The buffer's settled segments of ``size`` rows as (identity, offset, rows), from the
    one holding row ``start`` (a multiple of ``size``) up to row ``stop`` at most, and the
    first row after them (of the rest, aggregated fresh). None for rows from elsewhere (no
    ``epoch``).

    A segment is named by the buffer, its epoch, its size and place and the version of the
    rows up to its end (``TableSnapshot.version``): a late write rewriting rows before that
    end names it anew, one rewriting only later rows leaves it kept."""
    if snapshot.epoch is None or size <= 0:
        return [], start
    if start % size:
        raise ValueError(f"segments of {size} rows start at a multiple of it, not at {start}")
    segments: list[tuple[Hashable, int, int]] = []
    index = start // size
    while stop is None or (index + 1) * size <= stop:
        version = snapshot.version((index + 1) * size)
        if version is None:
            break
        segments.append((("buffer", *snapshot.epoch, size, index, version), index * size, size))
        index += 1
    return segments, index * size


def statement_digest(schema: pa.Schema, shape: PartialShape) -> bytes:
    """The table's schema and the normalised partial statement, as 16 bytes (keeps every
    entry's key small: ``partial_store.key_bytes`` counts it against the bound)."""
    fields = "\x1e".join(f"{field.name}\x1f{field.type}" for field in schema)
    return hashlib.blake2b(f"{fields}\x1d{shape.key}".encode(), digest_size=16).digest()


def partial_key(
    database: str, table: str, scope: frozenset[str] | None, part: Hashable, digest: bytes
) -> Hashable:
    """What a partial was computed for: the caller's scope, the part, ``statement_digest``."""
    return (database, table, scope, part, digest)


def file_identity(file: DataFile) -> Hashable:
    """A data file as a partial's key names it."""
    return (
        file.path, file.record_count, file.size_bytes, file.sequence_number,
        file.min_time_us, file.max_time_us,
    )  # fmt: skip


class PartialsTooLarge(Exception):
    """The partials one statement would hold pass ``--query-memory-limit``."""

    def __init__(self, held: int) -> None:
        super().__init__(f"the partials of one statement hold {held} bytes, past the query pool")


class HeldPartials:
    """The bytes of the partials one statement has made or found so far: they live outside
    DataFusion's pool, so past ``limit`` (``--query-memory-limit``; 0: none) the plain plan
    runs instead, in the pool."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.bytes = 0

    def counted(self, partial: pa.Table) -> pa.Table:
        """``partial``, its bytes counted (``PartialsTooLarge`` past the limit)."""
        self.bytes += partial.get_total_buffer_size()
        if 0 < self.limit < self.bytes:
            raise PartialsTooLarge(self.bytes)
        return partial


class RecentStatements:
    """The statements answered lately, by (database, table, scope, statement): a file a
    persist or compaction is about to install is aggregated for them ahead
    (``PartialAggregates.warm``). The ``RECENT_STATEMENTS`` latest are kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._recent: OrderedDict[
            tuple[str, str, frozenset[str] | None, str], tuple[PartialShape, ScanNeeds | None]
        ] = OrderedDict()

    def answered(
        self,
        database: str,
        table: str,
        scope: frozenset[str] | None,
        shape: PartialShape,
        needs: ScanNeeds | None,
    ) -> None:
        """Note a statement just answered from partials."""
        key = (database, table, scope, shape.key)
        with self._lock:
            self._recent[key] = (shape, needs)
            self._recent.move_to_end(key)
            while len(self._recent) > RECENT_STATEMENTS:
                self._recent.popitem(last=False)

    def over(
        self, database: str, table: str
    ) -> list[tuple[frozenset[str] | None, PartialShape, ScanNeeds | None]]:
        """The recent statements over ``table``: (scope, shape, needs)."""
        with self._lock:
            return [
                (k[2], *found) for k, found in self._recent.items() if k[:2] == (database, table)
            ]

    def forget(self, prefix: tuple[object, ...]) -> None:
        """Drop the statements of a dropped table or database (``(database, table)`` or
        ``(database,)``)."""
        with self._lock:
            for key in [k for k in self._recent if k[: len(prefix)] == prefix]:
                del self._recent[key]
