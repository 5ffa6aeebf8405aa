"""A table's current metadata file, as JSON: what an Iceberg REST catalog hands to readers.

The REST ``LoadTableResult`` carries the table metadata itself. It is read from the very
file the catalog points at (not re-serialised from PyIceberg's model), so a REST client
sees byte for byte what a reader of the SQL catalog would read.
"""

from __future__ import annotations

import gzip
import json

from pyiceberg.table import Table

_GZIP_MAGIC = b"\x1f\x8b"


def read_metadata(iceberg: Table) -> dict[str, object]:
    """The JSON of ``iceberg``'s current metadata file (gzipped files are unpacked)."""
    with iceberg.io.new_input(iceberg.metadata_location).open() as stream:
        data = stream.read()
    if data[:2] == _GZIP_MAGIC:
        data = gzip.decompress(data)
    metadata = json.loads(data)
    if not isinstance(metadata, dict):
        raise ValueError(f"{iceberg.metadata_location} is not a JSON object")
    return metadata
