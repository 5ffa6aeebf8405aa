"""Integer pages re-encoded as byte-aligned ``DELTA_BINARY_PACKED``, so zstd can entropy-code them.

pyarrow packs each miniblock of deltas at the fewest bits that hold it: TSBS's random-walk
fields (deltas mostly -3..3) take 3 bits a value, and zstd gains little on bits that are
not byte-aligned (3.3 bits a value in the file). The order-0 entropy of those deltas is
2.15 bits. ``DELTA_BINARY_PACKED`` lets the writer choose the block shape and the bit
width of each miniblock, so each rewritten page holds a single block with a single
miniblock whose width is a whole number of bytes (8 bits for small deltas): every delta is
one byte, and zstd's Huffman stage codes it near its entropy (2.4 bits a value at zstd 12
and above; bench/field_encoding.py). The pages stay standard Parquet: any reader of
``DELTA_BINARY_PACKED`` (Arrow C++, arrow-rs/DataFusion, DuckDB, parquet-java, Polars)
decodes them with no option. A page is replaced only when the result is smaller.

The file is written by pyarrow first, then its data pages are swapped here: the values
come from the Arrow column (not from decoding pyarrow's pages), the definition levels are
kept byte for byte, and every offset after a changed page (page headers, column chunk
metadata, offset index, row groups) is moved by what the page gained or lost. Files with
anything this does not expect (CRC, bloom filters, encryption, v2 pages, gaps between
chunks) are kept as pyarrow wrote them.
"""

from __future__ import annotations

import bisect
import logging
import struct

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import zstandard

from flight_iox.persist.footer_entries import MAGIC, parquet_footer
from flight_iox.persist.thrift_compact import (
    ThriftError,
    ThriftList,
    ThriftStruct,
    encode,
    read_struct,
    varint,
    zigzag,
)

log = logging.getLogger(__name__)

_DATA_PAGE, _INT64, _OPTIONAL, _ZSTD, _DELTA_BINARY_PACKED = 0, 2, 1, 6, 5
_MINIBLOCK = 64  # values per miniblock; a block holds a multiple of 128 values
# zstd's search for matches cut down, its parser (btopt at level 11) kept. On these bytes
# (a small alphabet, no long repeats) what the level buys is the parser choosing Huffman-
# coded literals over short matches; most of its time went into finding those matches. A
# one-step search over short chains, and matches of 7 bytes at least: the same 2.39 bits a
# value on TSBS at a third of the CPU (bench/integer_pages.py, docs/benchmarks.md).
_FEW_MATCHES = {"chain_log": 6, "hash_log": 10, "search_log": 1, "min_match": 7}
_PAGE_BYTES = 16 << 10  # the size zstd's parameters are chosen for (8,192 values a page)


class _Unsupported(Exception):
    """The file has a shape this rewriter leaves alone."""


def encode_pages(
    values: np.ndarray, starts: np.ndarray, counts: np.ndarray, block_size: int = 1024
) -> list[bytes]:
    """Pages of ``values`` (int64), page ``i`` holding ``counts[i]`` from ``starts[i]`` on,
    each as DELTA_BINARY_PACKED with byte-aligned miniblocks of 64 values.

    One numpy pass over all the pages of a column chunk: per page, the same 25 small numpy
    calls cost more than the arithmetic (1,280 pages a 1M-row persist). Miniblocks stay at
    64 values: arrow-rs (DataFusion) cannot skip rows inside a longer one ("cannot skip
    miniblock of size ..."), and the page index makes it skip.
    """
    counts = np.asarray(counts, np.int64)
    low = int(starts.min()) if len(starts) else 0  # the chunk's part of the column's values
    values = values[low : max(low, int((starts + counts).max(initial=0)))]
    starts = np.asarray(starts, np.int64) - low
    deltas = np.diff(values.view(np.uint64))  # wraps like the format's int64 arithmetic
    lengths = np.maximum(counts - 1, 0)  # deltas a page holds
    slots = -(-lengths // block_size) * block_size  # padded to whole blocks
    first_slot = np.cumsum(slots) - slots
    page = np.repeat(np.arange(len(counts)), slots)
    within = np.arange(int(slots.sum()), dtype=np.int64) - first_slot[page]
    real = within < lengths[page]
    source = np.where(real, starts[page] + within, 0)
    page_deltas = deltas[source] if len(deltas) else np.zeros(len(source), np.uint64)
    # One minimum for every block of a page (the format allows any minimum at or below the
    # block's): each delta then has the same byte in every block, which zstd's Huffman
    # stage needs (per-block minimums: 2.9 bits a value on TSBS, one per page: 2.35).
    least = np.zeros(len(counts), np.int64)
    filled = slots > 0
    if filled.any():
        signed = np.where(real, page_deltas.view(np.int64), np.iinfo(np.int64).max)
        least[filled] = np.minimum.reduceat(signed, first_slot[filled])
    offsets = np.where(real, page_deltas - least.view(np.uint64)[page], np.uint64(0))
    by_miniblock = offsets.reshape(-1, _MINIBLOCK)
    top = by_miniblock.max(axis=1, initial=0)
    widths = np.zeros(len(top), np.uint8)  # bytes per value of each miniblock
    for width in range(1, 9):
        widths[top >= np.uint64(1) << np.uint64(8 * (width - 1))] = width
    if len(widths) and widths.max() <= 1:  # TSBS: every delta one byte (or none)
        packed = by_miniblock[widths == 1].astype(np.uint8).tobytes()
    else:
        raw = by_miniblock.astype("<u8").view(np.uint8).reshape(len(top), _MINIBLOCK, 8)
        keep = np.arange(8) < widths[:, None, None]
        packed = raw[np.broadcast_to(keep, raw.shape)].tobytes()
    per_block = block_size // _MINIBLOCK
    block_bytes = np.cumsum(widths.astype(np.int64) * _MINIBLOCK)[per_block - 1 :: per_block]
    ends = [0, *block_bytes.tolist()]
    bit_widths = (widths * 8).tobytes()
    firsts = iter(values[starts[counts > 0]].tolist())
    out, block, head = [], 0, varint(block_size) + varint(per_block)
    for count, blocks, minimum in zip(counts.tolist(), (slots // block_size).tolist(),
                                      least.tolist(), strict=True):  # fmt: skip
        parts = [head, varint(count), zigzag(next(firsts) if count else 0)]
        least_bytes = zigzag(minimum)
        for b in range(block, block + blocks):
            parts += (least_bytes, bit_widths[b * per_block : (b + 1) * per_block],
                      packed[ends[b] : ends[b + 1]])  # fmt: skip
        block += blocks
        out.append(b"".join(parts))
    return out


class _Offsets:
    """Old file offsets to new ones, from the size change of each rewritten page."""

    def __init__(self) -> None:
        self._ends: list[int] = []
        self._shift: list[int] = []

    def changed(self, old_end: int, growth: int) -> None:
        """A page ending at ``old_end`` grew by ``growth`` bytes (negative: shrank)."""
        self._ends.append(old_end)
        self._shift.append((self._shift[-1] if self._shift else 0) + growth)

    def new(self, old: int) -> int:
        """Where what started at ``old`` starts now (``old`` lies at a page boundary)."""
        i = bisect.bisect_right(self._ends, old)
        return old + (self._shift[i - 1] if i else 0)


class _Column:
    """One integer column's non-null values, and how many precede each row."""

    def __init__(self, column: pa.ChunkedArray) -> None:
        array = column.combine_chunks()
        self.values = pc.drop_null(array).to_numpy(zero_copy_only=False).view(np.int64)
        if array.null_count == 0:
            self.before = np.arange(len(array) + 1, dtype=np.int64)
        else:
            valid = array.is_valid().to_numpy(zero_copy_only=False)
            self.before = np.concatenate([[0], np.cumsum(valid, dtype=np.int64)])

    def rows(self, first: int, count: int) -> np.ndarray:
        """The non-null values of rows ``first`` .. ``first + count``."""
        return self.values[self.before[first] : self.before[first + count]]


def rewrite_integer_pages(data: bytes, columns: dict[str, pa.ChunkedArray], level: int) -> bytes:
    """``data`` (a Parquet file pyarrow wrote from ``columns`` among others), pages swapped.

    ``columns`` are the int64 columns written with DELTA_BINARY_PACKED under zstd, by name;
    their pages are recompressed at zstd ``level`` with the search of ``_FEW_MATCHES``.
    Unchanged bytes when the file has a shape this module does not handle.
    """
    try:
        rewritten = _rewrite(data, {n: _Column(c) for n, c in columns.items()}, level)
    except (_Unsupported, ThriftError):
        return data
    if rewritten is not data and not _reads_back(rewritten, columns):
        # A hand-made page must never change a value: pyarrow's own file is kept instead.
        log.error("rewritten integer pages did not read back equal; file kept as written")
        return data
    return rewritten


def _reads_back(data: bytes, columns: dict[str, pa.ChunkedArray]) -> bool:
    """Whether pyarrow decodes the rewritten integer columns of ``data`` to ``columns``.

    The rewrite builds pages and moves offsets by hand, so each file is read back before it
    is kept (decoding integer pages costs far less than encoding and compressing them).
    """
    try:
        read = pq.read_table(pa.BufferReader(data), columns=list(columns))
    except (pa.ArrowException, OSError):
        return False
    return all(read.column(n).equals(c) for n, c in columns.items())


def _optional_leaves(footer: ThriftStruct) -> set[str]:
    schema = footer.get(2)
    if not isinstance(schema, ThriftList):
        raise _Unsupported("no schema")
    names = set()
    for element in schema.items[1:]:
        assert isinstance(element, ThriftStruct)
        name = element.get(4)
        if isinstance(name, bytes) and element.integer(3) == _OPTIONAL:
            names.add(name.decode())
    return names


def _chunks(footer: ThriftStruct) -> list[tuple[ThriftStruct, ThriftStruct, ThriftStruct, int]]:
    """(row group, column chunk, column metadata, first row) in file order."""
    out = []
    row_groups = footer.get(4)
    if not isinstance(row_groups, ThriftList):
        raise _Unsupported("no row groups")
    first_row = 0
    for group in row_groups.items:
        assert isinstance(group, ThriftStruct)
        chunks = group.get(1)
        assert isinstance(chunks, ThriftList)
        for chunk in chunks.items:
            assert isinstance(chunk, ThriftStruct)
            meta = chunk.struct(3)
            if meta is None or chunk.get(1) is not None or meta.get(14) is not None:
                raise _Unsupported("external, encrypted or bloom-filtered column chunk")
            out.append((group, chunk, meta, first_row))
        first_row += group.integer(3) or 0
    return sorted(out, key=lambda c: _chunk_start(c[2]))


def _chunk_start(meta: ThriftStruct) -> int:
    dictionary = meta.integer(11)
    data_page = meta.integer(9)
    if data_page is None:
        raise _Unsupported("no data page offset")
    return dictionary if dictionary is not None and dictionary < data_page else data_page


def _rewrite(data: bytes, columns: dict[str, _Column], level: int) -> bytes:
    footer, footer_start = parquet_footer(data)
    optional = _optional_leaves(footer)
    codec = pa.Codec("zstd", compression_level=1)  # decompresses pyarrow's pages
    params = zstandard.ZstdCompressionParameters.from_level(
        level, source_size=_PAGE_BYTES, **_FEW_MATCHES
    )
    compressor = zstandard.ZstdCompressor(compression_params=params)  # one context, reused
    out = bytearray(MAGIC)
    offsets = _Offsets()
    pos = len(MAGIC)
    chunks = _chunks(footer)
    for group, _, meta, first_row in chunks:
        start, size = _chunk_start(meta), meta.integer(7) or 0
        if start != pos:
            raise _Unsupported("column chunks are not contiguous")
        path = meta.get(3)
        name = b".".join(path.items).decode() if isinstance(path, ThriftList) else ""  # type: ignore[arg-type]
        column = columns.get(name)
        if column is None or meta.integer(1) != _INT64 or meta.integer(4) != _ZSTD:
            out += data[start : start + size]
        else:
            grown = _rewrite_chunk(data, start, size, first_row, column, name in optional,
                                   codec, compressor, out, offsets)  # fmt: skip
            meta.set_integer(6, (meta.integer(6) or 0) + grown[1])
            meta.set_integer(7, size + grown[0])
            group.set_integer(2, (group.integer(2) or 0) + grown[1])
            if group.integer(6) is not None:
                group.set_integer(6, (group.integer(6) or 0) + grown[0])
        pos = start + size
    _move_metadata(chunks, offsets)
    _copy_indexes(data, pos, footer_start, chunks, offsets, out)
    tail = encode(footer)
    return bytes(out + tail + struct.pack("<I", len(tail)) + MAGIC)


def _rewrite_chunk(
    data: bytes,
    start: int,
    size: int,
    first_row: int,
    column: _Column,
    optional: bool,
    codec: pa.Codec,
    compressor: zstandard.ZstdCompressor,
    out: bytearray,
    offsets: _Offsets,
) -> tuple[int, int]:
    """Copy one chunk's pages into ``out``, data pages re-encoded when smaller.

    Returns how many bytes the chunk grew by, compressed and uncompressed.
    """
    pages: list[tuple[int, ThriftStruct, int, int]] = []  # page start, header, body, end
    chosen: list[tuple[int, int, int]] = []  # (page, first row, rows) of those re-encoded
    pos, row = start, first_row
    while pos < start + size:
        header, body_start = read_struct(data, pos)
        body_end = body_start + (header.integer(3) or 0)
        page = header.struct(5)
        if header.integer(1) == _DATA_PAGE:
            if page is None or header.get(4) is not None:
                raise _Unsupported("a data page with a CRC or no header")
            rows = page.integer(1) or 0
            if page.integer(2) == _DELTA_BINARY_PACKED and len(column.rows(row, rows)) > 1:
                chosen.append((len(pages), row, rows))
            row += rows
        pages.append((pos, header, body_start, body_end))
        pos = body_end
    first_rows = np.array([r for _, r, _ in chosen], np.int64)
    starts = column.before[first_rows]
    counts = column.before[first_rows + np.array([n for *_, n in chosen], np.int64)] - starts
    encoded = dict(zip([i for i, *_ in chosen], encode_pages(column.values, starts, counts),
                       strict=True))  # fmt: skip
    grown = grown_raw = 0
    for i, (pos, header, body_start, body_end) in enumerate(pages):
        values = encoded.get(i)
        if values is not None:
            raw_size = header.integer(2) or 0
            raw = codec.decompress(data[body_start:body_end], raw_size, asbytes=True)
            levels = 4 + struct.unpack_from("<I", raw)[0] if optional else 0
            plain = raw[:levels] + values
            packed = compressor.compress(plain)
            header.set_integer(2, len(plain))
            header.set_integer(3, len(packed))
            new_head = encode(header)
            growth = len(new_head) + len(packed) - (body_end - pos)
            if growth < 0:
                out += new_head + packed
                offsets.changed(body_end, growth)
                grown += growth
                grown_raw += len(new_head) + len(plain) - (body_start - pos) - raw_size
                continue
        out += data[pos:body_end]
    return grown, grown_raw


def _move_metadata(
    chunks: list[tuple[ThriftStruct, ThriftStruct, ThriftStruct, int]], offsets: _Offsets
) -> None:
    for _, chunk, meta, _ in chunks:
        for field_id in (9, 10, 11):
            old = meta.integer(field_id)
            if old is not None:
                meta.set_integer(field_id, offsets.new(old))
        old = chunk.integer(2)
        if old:
            chunk.set_integer(2, offsets.new(old))
    seen: set[int] = set()
    for group, *_ in chunks:
        old = group.integer(5)
        if id(group) not in seen and old is not None:
            group.set_integer(5, offsets.new(old))
        seen.add(id(group))


def _copy_indexes(
    data: bytes,
    data_end: int,
    footer_start: int,
    chunks: list[tuple[ThriftStruct, ThriftStruct, ThriftStruct, int]],
    offsets: _Offsets,
    out: bytearray,
) -> None:
    """Column indexes copied, offset indexes with their pages moved, all in the old order."""
    blobs: list[tuple[int, int, ThriftStruct, bool]] = []
    for _, chunk, _, _ in chunks:
        for offset_id, length_id, is_offset in ((6, 7, False), (4, 5, True)):
            offset, length = chunk.integer(offset_id), chunk.integer(length_id)
            if offset is not None and length is not None:
                blobs.append((offset, length, chunk, is_offset))
    blobs.sort(key=lambda b: b[0])
    pos = data_end
    for offset, length, chunk, is_offset in blobs:
        if offset != pos:
            raise _Unsupported("the page index is not one contiguous region")
        blob = data[offset : offset + length]
        if is_offset:
            index, _ = read_struct(blob)
            pages = index.get(1)
            assert isinstance(pages, ThriftList)
            for location in pages.items:
                assert isinstance(location, ThriftStruct)
                old = location.integer(1) or 0
                size = location.integer(2) or 0
                location.set_integer(1, offsets.new(old))
                location.set_integer(2, offsets.new(old + size) - offsets.new(old))
            blob = encode(index)
        chunk.set_integer(4 if is_offset else 6, len(out))
        chunk.set_integer(5 if is_offset else 7, len(blob))
        out += blob
        pos = offset + length
    if pos != footer_start:
        raise _Unsupported("bytes between the page index and the footer")
