"""An entry appended to a written file's footer leaves everything else as pyarrow wrote it."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flight_iox.persist.footer_entries import parquet_footer, with_footer_entry
from flight_iox.persist.thrift_compact import ThriftError


def written(metadata: dict[bytes, bytes]) -> bytes:
    table = pa.table({"host": ["a", "b"], "v": [1.0, 2.0]})
    sink = pa.BufferOutputStream()
    pq.write_table(table.replace_schema_metadata(metadata), sink)
    return sink.getvalue().to_pybytes()


def entries(data: bytes) -> list[tuple[bytes, bytes]]:
    footer, _ = parquet_footer(data)
    listed = footer.get(5)
    return [(item.get(1), item.get(2)) for item in listed.items]  # type: ignore[union-attr]


def test_an_entry_is_appended_and_the_rest_kept() -> None:
    data = written({b"k1": b"a", b"k2": b"b"})  # pyarrow adds its own ARROW:schema
    before = entries(data)
    edited = with_footer_entry(data, b"iox:key", b"value")
    assert entries(edited) == [*before, (b"iox:key", b"value")]  # repeated keys kept too
    start = parquet_footer(data)[1]
    assert edited[:start] == data[:start]  # pages and page index untouched
    assert pq.read_table(pa.BufferReader(edited)).equals(pq.read_table(pa.BufferReader(data)))
    assert pq.read_metadata(pa.BufferReader(edited)).metadata[b"iox:key"] == b"value"


def test_not_a_parquet_file_is_refused() -> None:
    with pytest.raises(ThriftError):
        with_footer_entry(b"PAR1 not really", b"k", b"v")
