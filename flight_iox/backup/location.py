"""Where a backup lives: a local folder or an ``s3://bucket/prefix``, through pyarrow.

Files are streamed in blocks and hashed on the way, so a backup of a large warehouse
never holds a whole Parquet file in memory, and a restore can tell a damaged copy.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass

import pyarrow.fs as pafs

from iox_catalog.object_store import ObjectStoreConfig

BLOCK = 1 << 20


@dataclass(frozen=True)
class CopiedFile:
    """One file as copied: its size and SHA-256 (hex)."""

    size: int
    sha256: str


def copy_file(
    source: pafs.FileSystem,
    source_path: str,
    target: pafs.FileSystem,
    target_path: str,
    limit: int | None = None,
) -> CopiedFile:
    """Stream ``source_path`` (its first ``limit`` bytes) to ``target_path``; hash it."""
    digest = hashlib.sha256()
    size = 0
    with (
        source.open_input_stream(source_path) as reader,
        target.open_output_stream(target_path) as writer,
    ):
        while limit is None or size < limit:
            want = BLOCK if limit is None else min(BLOCK, limit - size)
            block = reader.read(want)
            if not block:
                break
            digest.update(block)
            writer.write(block)
            size += len(block)
    if limit is not None and size != limit:
        raise OSError(f"{source_path} holds {size} bytes, expected at least {limit}")
    return CopiedFile(size, digest.hexdigest())


@dataclass(frozen=True)
class BackupLocation:
    """A backup's folder: a filesystem and the root path in it (no trailing slash)."""

    filesystem: pafs.FileSystem
    root: str
    url: str

    def path(self, relative: str) -> str:
        """The filesystem path of a file of the backup (``relative`` uses ``/``)."""
        return f"{self.root}/{relative}"

    def exists(self, relative: str) -> bool:
        """Whether the backup holds ``relative``."""
        info = self.filesystem.get_file_info(self.path(relative))
        return info.type != pafs.FileType.NotFound

    def is_empty(self) -> bool:
        """Whether nothing is there yet (a missing folder is empty)."""
        info = self.filesystem.get_file_info(self.root)
        if info.type == pafs.FileType.NotFound:
            return True
        if info.type != pafs.FileType.Directory:
            return False
        selector = pafs.FileSelector(self.root, allow_not_found=True)
        return not self.filesystem.get_file_info(selector)

    def read_bytes(self, relative: str) -> bytes:
        """A (small) file of the backup: the manifest, the schema state."""
        with self.filesystem.open_input_stream(self.path(relative)) as stream:
            return bytes(stream.read())

    def write_bytes(self, relative: str, data: bytes) -> None:
        """Write a (small) file of the backup."""
        self.make_parent(relative)
        with self.filesystem.open_output_stream(self.path(relative)) as stream:
            stream.write(data)

    def make_parent(self, relative: str) -> None:
        """Create the folder ``relative`` goes into (S3 needs none)."""
        parent = self.path(relative).rsplit("/", 1)[0]
        self.filesystem.create_dir(parent, recursive=True)


def open_location(url: str, store: ObjectStoreConfig | None = None) -> BackupLocation:
    """The backup at ``url``: a folder path, or ``s3://bucket/prefix`` reached as ``store``.

    ``store`` is the server's own object-store configuration (endpoint, region, keys);
    without one, the ``AWS_*`` environment gives them.
    """
    if url.startswith("s3://"):
        prefix = url.removeprefix("s3://").strip("/")
        if not prefix:
            raise ValueError(f"backup location {url!r} names no bucket")
        config = (
            dataclasses.replace(store, warehouse=url)
            if store is not None and store.is_s3
            else ObjectStoreConfig.from_environment(url)
        )
        return BackupLocation(config.pyarrow_filesystem(), prefix, url)
    if "://" in url:
        raise ValueError(f"backup location {url!r}: use a folder path or s3://bucket/prefix")
    root = os.path.abspath(url).rstrip(os.sep) or os.sep
    return BackupLocation(pafs.LocalFileSystem(), root, root)
