"""Each series' first and last time in a set of rows: whether two sources can share a row key.

Two sources must be deduplicated against each other only where they may hold the same row
key: the same series (its tag values) at the same time. Bounds per source (its time range,
each tag's least and greatest value: ``query/overlap.py``) say too little when several
writers fill one table: each with its own series and clock, every new file meets the one
before by bounds, so each compaction pass merged them and each query deduplicated the newest
file with the buffer (``bench/series_overlap.py``, one writer 2 s behind the other:
compaction 1.56 s against 0.08 s over six persists, the soak's statement 61 against 17 ms).
Here each series a source holds is known with its first and last time, so two sources meet
only if some series is in both with intersecting times.

A series is named by its tags' names and values, in name order, nulls left out (a tag a
source lacks is a tag its rows have no value of, as in the data model), each name and value
prefixed by its length in bytes: ``4:host3:a01``. Line protocol lets a tag value hold any
character, ``=`` and control characters included, so only a self-delimiting name keeps two
different series apart (with plain ``name=value`` pieces, ``a="x<sep>b=y"`` and
``a="x", b="y"`` got one name, and the first's times were never compared).

A data file stores its ranges in its Parquet footer (``FOOTER_KEY``: an Arrow IPC stream,
base64), written with the file; readers that do not know the key ignore it. Past
``MAX_SERIES`` series no ranges are kept, and the coarser bounds decide.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.columns import TIME_COLUMN

# Versioned: the first names (``name=value`` joined by a separator) could collide; files
# that hold them are read as having no ranges.
FOOTER_KEY = b"iox:series_ranges/2"
MAX_SERIES = 16_384
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
    rows: pa.Table, tags: Sequence[str], time_ns: pa.Array | pa.ChunkedArray | None = None
) -> SeriesRanges | None:
    """The ranges of ``rows``' series (None past ``MAX_SERIES``); ``time_ns`` (int64) stands
    for the time column when the rows hold it in another shape (a file's microseconds)."""
    times = time_ns if time_ns is not None else rows.column(TIME_COLUMN).cast(pa.int64())
    return ranges_of([rows.column(t) for t in tags], tags, times)


def ranges_of(
    columns: Sequence[pa.Array | pa.ChunkedArray],
    tags: Sequence[str],
    times: pa.Array | pa.ChunkedArray,
) -> SeriesRanges | None:
    """The ranges of the rows whose tag ``tags[i]`` is ``columns[i]`` and time ``times``.

    Grouped under positional names: a tag may be called anything, ``time`` or ``t`` too."""
    keys = [f"c{i}" for i in range(len(columns))]
    keyed = pa.table([*columns, times], names=[*keys, "t"]).unify_dictionaries()
    grouped = keyed.group_by(keys, use_threads=False).aggregate([("t", "min"), ("t", "max")])
    if grouped.num_rows > MAX_SERIES:
        return None
    named = pa.table(
        {
            "series": series_names([grouped.column(k) for k in keys], tags, grouped.num_rows),
            "first": grouped.column("t_min"),
            "last": grouped.column("t_max"),
        }
    )
    # Null and absent tags name alike: rows grouped apart may be one series, merged here.
    merged = named.group_by("series", use_threads=False).aggregate(
        [("first", "min"), ("last", "max")]
    )
    return SeriesRanges(
        merged.column("series").combine_chunks(),
        merged.column("first_min").to_numpy(),
        merged.column("last_max").to_numpy(),
    )


def series_names(
    columns: Sequence[pa.Array | pa.ChunkedArray], tags: Sequence[str], rows: int
) -> pa.Array:
    """Each of ``rows`` rows' series name (see the module's docstring) from its tags' columns
    (none: every row is the one series of a table without tags)."""
    pieces = []
    for tag, column in sorted(zip(tags, columns, strict=True), key=lambda pair: pair[0]):
        values = column.cast(pa.string())
        lengths = pc.binary_length(values).cast(pa.string())
        name = f"{len(tag.encode())}:{tag}"
        piece = pc.binary_join_element_wise(name, lengths, ":", values, "")  # null if null
        pieces.append(pc.fill_null(piece, ""))
    if not pieces:
        return pa.array([""] * rows, pa.string())
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
