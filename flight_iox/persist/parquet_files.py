"""Write a table's rows as sorted, partitioned Parquet files tuned for time series.

Rows are sorted by tags then time and split by the table's current Iceberg partition
spec (``iox_catalog.partitioning``; ``day(time)`` unless the table was given another),
one file per partition under Iceberg's ``data/<field>=<value>/`` folders.
The tags go most distinct first (ties by name), so one series is one run and each
page holds a few neighbouring series: a predicate on the most selective tag
(``hostname``) prunes row groups and, through the page index, pages.
Time is written as microseconds plus the nanosecond remainder (see
``iox_catalog.schema``). Encodings follow measurements on TSBS data
(docs/benchmarks.md): dictionary for tags, ``DELTA_BINARY_PACKED`` for time and
integers, ``BYTE_STREAM_SPLIT`` for floats, all under zstd. Pages hold at most
``PAGE_ROWS`` rows and a page index is written (8,192 rows: 0.44 B/value on TSBS
against 0.42 with one page per row group, 0.52 at 2,048). The integer fields' pages are
then re-encoded byte-aligned (``byte_aligned_delta``) under zstd ``INTEGER_ZSTD_LEVEL``,
which zstd codes near the deltas' entropy: 0.32 B/value on the same data, still
``DELTA_BINARY_PACKED`` to every reader.

Tags are written from Arrow dictionaries (dictionary pages straight from their values),
and each file stores two Arrow schemas under the same ``ARROW:schema`` key, one per
reader (``StoredSchema.SPLIT``). Arrow C++ (pyarrow, and so PyIceberg) takes the first
entry, tags as strings, and sees the Parquet strings the Iceberg schema promises: a stored
``dictionary<int32, utf8>`` made every PyIceberg scan log "Iceberg does not have a
dictionary type" once per tag. arrow-rs (DataFusion's Parquet reader) keeps the last entry,
tags as dictionaries, and decodes them straight from the dictionary pages: DataFusion 55
takes a dictionary read only from a stored schema, and casting decoded strings instead cost
1.36x on TSBS queries over files outside the Parquet cache (docs/benchmarks.md,
``bench/dictionary_hint.py``). The trap: this rests on each library's lookup of a repeated
key (C++ ``FindKey``: first; arrow-rs, a map: last); ``tests/unit/persist`` pins both,
and if one changes, reads stay correct and only that reader's speed or quiet is lost.
The Parquet cache reads with pyarrow's ``read_dictionary`` either way.

Each file's footer also holds its series' first and last times (``engine/series_ranges.py``),
which queries and compaction use to tell files that share a series in time from files that
only share tag bounds; they are handed back with the rows (``WrittenPart.series``).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from flight_iox.columns import TIME_COLUMN, ColumnRole, FieldType
from flight_iox.engine.series_ranges import FOOTER_KEY, SeriesRanges, encode, series_ranges
from flight_iox.persist.byte_aligned_delta import rewrite_integer_pages
from flight_iox.persist.footer_entries import with_footer_entry
from flight_iox.persist.tag_columns import (
    sort_key,
    sort_tags,
    unifiable,
    with_tag_dictionaries,
)
from flight_iox.persist.thrift_compact import ThriftError
from iox_catalog.files import WrittenFile
from iox_catalog.partitioning import Partitioning, PartitionKey, WriteTarget
from iox_catalog.schema import REMAINDER_COLUMN, ColumnKinds, file_schema
from iox_catalog.storage import Storage

log = logging.getLogger(__name__)
NS_PER_US = 1_000
ROW_GROUP_ROWS = 262_144
PAGE_ROWS = 8_192
ZSTD_LEVEL = 9
# zstd level of the byte-aligned integer pages; 0 keeps pyarrow's pages. Levels below 11
# choose short matches over Huffman literals on these bytes (2.8 bits a value at 9, 2.37 at
# 11, the same at 12 for 25% more CPU). Level 11's parser is kept with its match search cut
# down (``byte_aligned_delta._FEW_MATCHES``: the same bits at a third of the CPU).
# pyarrow's own pages of those columns, mostly replaced, are compressed at level 1.
INTEGER_ZSTD_LEVEL = 11
ARROW_SCHEMA_KEY = "ARROW:schema"


class StoredSchema(StrEnum):
    """Which Arrow schema a data file stores for its readers (see the module docstring)."""

    DICTIONARY = "dictionary"  # files written before issue 19: PyIceberg warns per tag
    STRINGS = "strings"  # none: every reader decodes tag strings (DataFusion casts them)
    SPLIT = "split"  # strings first (pyarrow), dictionaries last (DataFusion)


# What new files store; bench/dictionary_hint.py writes each kind to compare.
STORED_SCHEMA = StoredSchema.SPLIT


def sort_rows(data: pa.Table, kinds: ColumnKinds, tags: list[str] | None = None) -> pa.Table:
    """Rows ordered by (tags, time), so one series is one contiguous run."""
    keys = {}
    for tag in sort_tags(data, kinds) if tags is None else tags:
        keys[tag] = sort_key(data.column(tag))
    keys[TIME_COLUMN] = data.column(TIME_COLUMN)
    order = pc.sort_indices(
        pa.table(keys), sort_keys=[(name, "ascending", "at_start") for name in keys]
    )
    return data.take(order)


def to_file_columns(data: pa.Table, kinds: ColumnKinds, tag_dictionaries: bool = False) -> pa.Table:
    """The data-model table in the Parquet/Iceberg file shape (``tag_dictionaries``: a tag
    that is a dictionary Arrow can unify stays one, for ``with_tag_dictionaries``)."""
    schema = file_schema(kinds)
    if tag_dictionaries:
        kept = [f.name for f in schema if kinds.get(f.name) is ColumnRole.TAG
                and f.name in data.column_names and unifiable(data.column(f.name))]  # fmt: skip
        for name in kept:
            index = schema.get_field_index(name)
            schema = schema.set(index, schema.field(index).with_type(data.column(name).type))
    nanos = data.column(TIME_COLUMN).cast(pa.int64()).to_numpy()
    micros, remainder = np.divmod(nanos, NS_PER_US)
    columns = []
    for field in schema:
        if field.name == TIME_COLUMN:
            columns.append(pa.array(micros, pa.int64()).view(pa.timestamp("us")))
        elif field.name == REMAINDER_COLUMN:
            columns.append(pa.array(remainder.astype(np.int32)))
        elif field.name in data.column_names:
            column = data.column(field.name)
            if column.type == field.type:  # a tag dictionary kept
                columns.append(column)
                continue
            if pa.types.is_dictionary(column.type):
                column = column.cast(column.type.value_type)
            columns.append(column.cast(field.type, safe=False))
        else:
            columns.append(pa.nulls(data.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _stored_metadata(schema: pa.Schema) -> dict[str, bytes] | None:
    """The schema metadata to write ``schema`` (tags as dictionaries) with, per ``STORED_SCHEMA``.

    pyarrow appends its own ``ARROW:schema`` entry (the dictionaries) after the schema's
    metadata, so a plain-strings entry put in the metadata comes first in the file.
    """
    if STORED_SCHEMA is not StoredSchema.SPLIT:
        return None
    plain = pa.schema(
        f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in schema
    )
    return {ARROW_SCHEMA_KEY: base64.b64encode(plain.serialize().to_pybytes())}


def _encodings(schema: pa.Schema, kinds: ColumnKinds) -> dict[str, str]:
    encodings = {TIME_COLUMN: "DELTA_BINARY_PACKED", REMAINDER_COLUMN: "DELTA_BINARY_PACKED"}
    for name, kind in kinds.items():
        if kind in (FieldType.INTEGER, FieldType.UNSIGNED):
            encodings[name] = "DELTA_BINARY_PACKED"
        elif kind is FieldType.FLOAT:
            encodings[name] = "BYTE_STREAM_SPLIT"
    return encodings


@dataclass(frozen=True)
class WrittenPart:
    """A file just written, with its rows in the file shape as a reader decodes them."""

    file: WrittenFile
    rows: pa.Table
    series: SeriesRanges | None = None  # as the footer holds them (None: too many series)
    nanoseconds: pa.Array | None = None  # the rows' times, made once for the series ranges

    @property
    def whole(self) -> bool:
        """Whether the rows own their memory: not a slice of a larger table (a batch spread
        over many partitions), which, kept, would hold the whole table in memory behind
        the cache's count of their bytes."""
        return self.rows.get_total_buffer_size() <= 2 * self.rows.nbytes

    def model_rows(self, model_schema: pa.Schema) -> pa.Table:
        """The file's rows in the data-model shape, equal to ``read_model_rows`` of it."""
        return from_file_columns(self.rows, model_schema, self.nanoseconds)


def kept_rows(parts: list[WrittenPart]) -> dict[str, Callable[[pa.Schema], pa.Table]]:
    """What the Parquet cache may take instead of decoding each new file, by URI: its rows
    in the data-model shape, made only if the cache takes the file (issue 20: decoding a
    new file took 80-120 ms of both cores, and the queries running then were the soak's
    slowest). Parts that are not ``whole`` are left to be decoded."""
    return {part.file.uri: part.model_rows for part in parts if part.whole}


def write_partitioned(
    data: pa.Table, kinds: ColumnKinds, target: WriteTarget, storage: Storage
) -> list[WrittenFile]:
    """``write_parts``, for callers that do not keep the rows."""
    return [part.file for part in write_parts(data, kinds, target, storage)]


def write_parts(
    data: pa.Table, kinds: ColumnKinds, target: WriteTarget, storage: Storage
) -> list[WrittenPart]:
    """Write ``data`` (deduplicated, data-model shape) as one file per partition.

    Every path is checked to lie under the target's location in the warehouse
    (``Storage.contained``): ``StoragePathError`` otherwise, before anything is written.

    A failed write (a full disk, say) leaves no file behind: a partial one would keep the
    disk full, and none of them is committed, so none would ever be read.
    """
    return store_parts(encode_parts(data, kinds, target.partitioning), target, storage)


@dataclass(frozen=True)
class EncodedPart:
    """One partition's file, made but not yet stored (``encode_parts``): what a persist's
    CPU goes into, so it can be made in another process (``persist/encoder.py``)."""

    key: PartitionKey
    folder: str  # ``<field>=<value>/…`` under the table's data folder ('' unpartitioned)
    rows: pa.Table  # file columns, as ``WrittenPart.rows``
    nanoseconds: pa.Array
    series: SeriesRanges | None
    data: bytes | pa.Buffer  # the Parquet file (a Buffer: mapped from the encoder)


def encode_parts(
    data: pa.Table, kinds: ColumnKinds, partitioning: Partitioning
) -> list[EncodedPart]:
    """``data`` sorted, split by partition and encoded as Parquet files, in memory."""
    if data.num_rows == 0:
        return []
    tags = sort_tags(data, kinds)
    rows = to_file_columns(sort_rows(data, kinds, tags), kinds, tag_dictionaries=True)
    encodings = _encodings(rows.schema, kinds)
    dictionary_columns = [
        n for n, kind in kinds.items() if kind in (ColumnRole.TAG, FieldType.STRING)
    ]
    sorting = [pq.SortingColumn(rows.schema.get_field_index(n)) for n in [*tags, TIME_COLUMN]]
    integers = [n for n, kind in kinds.items() if kind in (FieldType.INTEGER, FieldType.UNSIGNED)]
    encoded = []
    tag_names = [n for n, kind in kinds.items() if kind is ColumnRole.TAG]
    for partition in partitioning.split(rows):  # keeps the (tags, time) order
        part = with_tag_dictionaries(partition.rows, tag_names)
        nanoseconds = _nanoseconds(part)  # for the series ranges and the cached rows
        series = _series_of(part, tag_names, nanoseconds)
        part = part.replace_schema_metadata(_stored_metadata(part.schema))
        sink = pa.BufferOutputStream()
        with pq.ParquetWriter(
            sink,
            part.schema,
            compression="zstd",
            compression_level={
                n: 1 if INTEGER_ZSTD_LEVEL and n in integers else ZSTD_LEVEL
                for n in part.column_names
            },
            use_dictionary=dictionary_columns,
            column_encoding=encodings,
            write_statistics=True,
            sorting_columns=sorting,
            store_schema=STORED_SCHEMA is not StoredSchema.STRINGS,
            write_page_index=True,
            max_rows_per_page=PAGE_ROWS,
        ) as writer:
            writer.write_table(part, row_group_size=ROW_GROUP_ROWS)
        file = sink.getvalue().to_pybytes()
        if INTEGER_ZSTD_LEVEL:
            columns = {n: part.column(n) for n in integers if n in part.column_names}
            file = rewrite_integer_pages(file, columns, INTEGER_ZSTD_LEVEL)
        series, file = _with_series(file, series)
        encoded.append(EncodedPart(partition.key, partition.path, part, nanoseconds, series, file))
    return encoded


def store_parts(
    parts: list[EncodedPart], target: WriteTarget, storage: Storage
) -> list[WrittenPart]:
    """Store encoded ``parts`` under ``target``'s data folder (see ``write_parts``)."""
    location = target.location
    attempted: list[str] = []
    written = []
    try:
        for part in parts:
            folder = f"{location}/data/{part.folder}" if part.folder else f"{location}/data"
            path = storage.contained(f"{folder}/{uuid.uuid4().hex}.parquet", within=location)
            attempted.append(path)
            storage.filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
            with storage.filesystem.open_output_stream(path) as out:
                out.write(part.data)
            file = WrittenFile(storage.uri(path), part.key)
            written.append(WrittenPart(file, part.rows, part.series, part.nanoseconds))
    except OSError:
        for path in attempted:
            with contextlib.suppress(OSError):
                storage.filesystem.delete_file(path)
        raise
    return written


def _series_of(part: pa.Table, tags: list[str], nanoseconds: pa.Array) -> SeriesRanges | None:
    """The file's series ranges; None (bounds decide for it) if they cannot be made: they
    only spare work, and a persist must never fail for them."""
    try:
        return series_ranges(part, tags, nanoseconds)
    except (pa.ArrowException, ValueError) as error:  # Arrow's refusal; a bug still surfaces
        log.error("series ranges not made for a file (bounds decide for it): %s", error)
        return None


def _with_series(data: bytes, series: SeriesRanges | None) -> tuple[SeriesRanges | None, bytes]:
    """The file ``data`` with ``series`` in its footer; the ranges it holds (None: none).

    The footer is edited by hand, so the file's metadata is read back before it is kept, as
    ``byte_aligned_delta`` reads back its pages: any doubt keeps pyarrow's file, without
    ranges (bounds decide for it)."""
    if series is None:
        return None, data
    value = encode(series)
    try:
        edited = with_footer_entry(data, FOOTER_KEY, value)
        metadata = pq.read_metadata(pa.BufferReader(edited))
        kept = metadata.num_rows == pq.read_metadata(pa.BufferReader(data)).num_rows
        if kept and (metadata.metadata or {}).get(FOOTER_KEY) == value:
            return series, edited
    except (ThriftError, struct.error, OSError, pa.ArrowException) as error:
        log.error("series ranges not written to a file's footer (bounds decide): %s", error)
    return None, data


def _nanoseconds(rows: pa.Table) -> pa.Array:
    """The time of file-shaped ``rows`` (microseconds and a remainder) in nanoseconds."""
    micros = rows.column(TIME_COLUMN).cast(pa.int64()).to_numpy()
    if REMAINDER_COLUMN not in rows.column_names:
        return pa.array(micros * NS_PER_US, pa.int64())
    remainder = rows.column(REMAINDER_COLUMN).fill_null(0).to_numpy()
    return pa.array(micros * NS_PER_US + remainder, pa.int64())


def from_file_columns(
    rows: pa.Table, model_schema: pa.Schema, nanoseconds: pa.Array | None = None
) -> pa.Table:
    """The inverse of ``to_file_columns``: file rows back in the data-model shape
    (``nanoseconds``: the rows' times, when already made)."""
    columns = []
    for field in model_schema:
        if field.name == TIME_COLUMN:
            times = _nanoseconds(rows) if nanoseconds is None else nanoseconds
            columns.append(times.view(field.type))
        elif field.name not in rows.column_names:
            columns.append(pa.nulls(rows.num_rows, field.type))
        elif pa.types.is_dictionary(field.type):
            column = rows.column(field.name)
            if column.type != field.type:  # read without ``read_dictionary``: strings
                column = pc.dictionary_encode(column.combine_chunks().cast(pa.string()))
            columns.append(column)
        else:
            columns.append(rows.column(field.name).cast(field.type, safe=False))
    return pa.Table.from_arrays(columns, schema=model_schema)


def read_model_rows(uri: str, model_schema: pa.Schema, storage: Storage) -> pa.Table:
    """Read one data file back in the data-model shape."""
    tags = [f.name for f in model_schema if pa.types.is_dictionary(f.type)]
    rows = pq.read_table(storage.path(uri), filesystem=storage.filesystem, read_dictionary=tags)
    return from_file_columns(rows, model_schema)
