"""Each series' first and last time in a set of rows: whether two sources can share a row key.

Two sources must be deduplicated against each other only where they may hold the same row
key: the same series (its tag values) at the same time. Bounds per source (its time range,
each tag's least and greatest value: ``query/overlap.py``) say too little when several
writers fill one table: each with its own series and clock, every new file meets the one
before by bounds, so each compaction pass merged them and each query deduplicated the newest
file with the buffer (``bench/series_overlap.py``, one writer 2 s behind the other:
compaction 1.32 s against 0.07 s over six persists, the soak's statement 51 against 15 ms).
Here each series a source holds is known with its first and last time, so two sources meet
only if some series is in both with intersecting times.

A series is named by its tag values as ``name=value`` pieces, in name order, nulls left
out: a tag a source lacks is a tag its rows have no value of, as in the data model. (Each
piece carries its own separator: pyarrow's ``binary_join_element_wise`` told to skip nulls
drops the rows whose every piece is null.) Two different series could only get one name if
a value held the separator, and then they are taken for one series: a pair of sources is at
worst kept for deduplication, never left out.

A data file stores its ranges in its Parquet footer (``FOOTER_KEY``: an Arrow IPC stream,
base64), written with the file; readers that do not know the key ignore it. Past
``MAX_SERIES`` series no ranges are kept, and the coarser bounds decide.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.columns import TIME_COLUMN

FOOTER_KEY = b"iox:series_ranges"
MAX_SERIES = 16_384
SEPARATOR = "\x1f"  # between the name=value pieces of a series' name
_SCHEMA = pa.schema(
    [
        pa.field("series", pa.string(), nullable=False),
        pa.field("first", pa.int64(), nullable=False),
        pa.field("last", pa.int64(), nullable=False),
    ]
)
_IPC = pa.ipc.IpcWriteOptions(compression="zstd")


@dataclass(frozen=True, eq=False)
class SeriesRanges:
    """The series of one source, each once, with its first and last time (nanoseconds)."""

    series: pa.Array  # string: each series' name (see the module's docstring)
    first: np.ndarray  # int64, inclusive
    last: np.ndarray  # int64, inclusive

    @property
    def nbytes(self) -> int:
        """Bytes held, for the bound of a cache of ranges."""
        return int(self.series.nbytes + self.first.nbytes + self.last.nbytes)

    def meets(self, other: SeriesRanges) -> bool:
        """Whether some series is in both with times that intersect."""
        if len(self.series) == 0 or len(other.series) == 0:
            return False
        at = pc.index_in(other.series, value_set=self.series)
        found = at.is_valid().to_numpy(zero_copy_only=False)
        if not found.any():
            return False
        mine = at.drop_null().to_numpy()
        theirs = np.flatnonzero(found)
        return bool(
            np.any(
                (self.first[mine] <= other.last[theirs]) & (other.first[theirs] <= self.last[mine])
            )
        )


def series_ranges(
    rows: pa.Table, tags: list[str], time_ns: pa.Array | None = None
) -> SeriesRanges | None:
    """The ranges of ``rows``' series (None past ``MAX_SERIES``); ``time_ns`` (int64) stands
    for the time column when the rows hold it in another shape (a file's microseconds)."""
    times = time_ns if time_ns is not None else rows.column(TIME_COLUMN).cast(pa.int64())
    keyed = pa.table([*(rows.column(t) for t in tags), times], names=[*tags, "__time"])
    keyed = keyed.unify_dictionaries()  # the buffer's chunks each have their own
    grouped = keyed.group_by(tags, use_threads=False).aggregate(
        [("__time", "min"), ("__time", "max")]
    )
    if grouped.num_rows > MAX_SERIES:
        return None
    return SeriesRanges(
        series_names(grouped, tags),
        grouped.column("__time_min").to_numpy(),
        grouped.column("__time_max").to_numpy(),
    )


def series_names(rows: pa.Table, tags: list[str]) -> pa.Array:
    """Each row's series name: its tags' ``name=value`` pieces in name order, nulls left out."""
    if not tags:
        return pa.array([""] * rows.num_rows, pa.string())
    pieces = []
    for tag in sorted(tags):  # "name=value<SEPARATOR>", or nothing for a null
        values = rows.column(tag).cast(pa.string())
        piece = pc.binary_join_element_wise(f"{tag}=", values, SEPARATOR, "")
        pieces.append(pc.fill_null(piece, ""))
    joined = pc.binary_join_element_wise(*pieces, "") if len(pieces) > 1 else pieces[0]
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


def encode(ranges: SeriesRanges) -> bytes:
    """``ranges`` as a footer value (base64 of a compressed Arrow IPC stream)."""
    table = pa.table([ranges.series, pa.array(ranges.first), pa.array(ranges.last)], schema=_SCHEMA)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, _SCHEMA, options=_IPC) as writer:
        writer.write_table(table)
    return base64.b64encode(sink.getvalue().to_pybytes())


def decode(value: bytes) -> SeriesRanges:
    """The ranges ``encode`` wrote (``ValueError`` or ``pa.ArrowInvalid`` when malformed)."""
    table = pa.ipc.open_stream(base64.b64decode(value, validate=True)).read_all()
    if not table.schema.equals(_SCHEMA):
        raise ValueError(f"unexpected series ranges schema: {table.schema}")
    return SeriesRanges(
        table.column("series").combine_chunks(),
        table.column("first").to_numpy(),
        table.column("last").to_numpy(),
    )
