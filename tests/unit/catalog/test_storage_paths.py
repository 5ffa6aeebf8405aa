"""The one containment check (local folders and S3 prefixes) and the name escape."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.fs as pafs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flight_iox.errors import StoragePathError
from flight_iox.names import MAX_SEGMENT_CHARS, path_segment
from iox_catalog.config import CatalogConfig
from iox_catalog.locations import new_table_location
from iox_catalog.object_store import ObjectStoreConfig
from iox_catalog.storage import Storage, contained_path, is_canonical_location, open_storage

TRAVERSAL_NAMES = [
    "../../../../victim", "../other/cpu", "..", ".", "a/b", "a\\b", "%2e%2e", "%2E%2E%2F",
    "/etc/passwd", "C:\\x", "~", "~root", "x" * 512, "ünï cødé", "a.b", " ", "?x#y", "..\\..",
]  # fmt: skip


@pytest.mark.parametrize("name", TRAVERSAL_NAMES)
def test_segment_is_one_plain_folder(name: str) -> None:
    segment = path_segment(name)
    assert segment and len(segment) <= MAX_SEGMENT_CHARS
    assert set(segment) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-~")
    assert segment not in (".", "..")


@given(st.text(min_size=1, max_size=20))
def test_short_segments_are_reversible(name: str) -> None:
    segment = path_segment(name)
    safe = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
    if sum(1 if byte in safe else 3 for byte in name.encode()) <= MAX_SEGMENT_CHARS:
        decoded = bytearray()
        i = 0
        while i < len(segment):
            if segment[i] == "~":
                decoded.append(int(segment[i + 1 : i + 3], 16))
                i += 3
            else:
                decoded += segment[i].encode()
                i += 1
        assert decoded.decode() == name


def local_storage(root: Path) -> Storage:
    root.mkdir(parents=True, exist_ok=True)
    return Storage(pafs.LocalFileSystem(), "file", os.path.realpath(root))


def test_local_containment(tmp_path: Path) -> None:
    storage = local_storage(tmp_path / "warehouse")
    inside = f"file://{storage.root}/db/t-1/data/x.parquet"
    assert storage.contained(inside) == f"{storage.root}/db/t-1/data/x.parquet"
    assert storage.contained(inside, within=f"file://{storage.root}/db/t-1")
    for escaping in [
        f"file://{storage.root}/../victim/data/x.parquet",
        f"file://{storage.root}/db/../../victim",
        f"file://{storage.root}",  # the root itself is not a file of a table
        f"file://{storage.root}-sibling/x.parquet",  # a prefix of the text is not a folder
        "file:///etc/passwd",
        "/tmp/elsewhere",
    ]:
        with pytest.raises(StoragePathError, match="refused storage path"):
            storage.contained(escaping)
    with pytest.raises(StoragePathError):  # another table's folder
        storage.contained(inside, within=f"file://{storage.root}/db/t-2")
    with pytest.raises(StoragePathError):  # climbs out of its own table's folder
        storage.contained(
            f"file://{storage.root}/db/t-1/../t-2/data/x.parquet",
            within=f"file://{storage.root}/db/t-1",
        )


def test_local_symlink_out_is_refused(tmp_path: Path) -> None:
    storage = local_storage(tmp_path / "warehouse")
    (tmp_path / "victim").mkdir()
    os.symlink(tmp_path / "victim", Path(storage.root) / "link")
    with pytest.raises(StoragePathError):
        storage.contained(f"file://{storage.root}/link/x.parquet")


def test_s3_containment() -> None:
    root = "bucket/prefix"
    assert contained_path("bucket/prefix/db/t/data/x.parquet", root, "s3") is not None
    assert contained_path("bucket/prefix/db/t/x", root, "s3", within="s3://bucket/prefix/db/t")
    for escaping in [
        "bucket/prefix/../other/x",
        "bucket/prefix/./x",
        "bucket/prefix//x",
        "bucket/prefixed/x",
        "bucket/other/x",
        "other-bucket/prefix/x",
        "bucket/prefix",
        "bucket/prefix/a\\..\\x",
    ]:
        with pytest.raises(StoragePathError):
            contained_path(escaping, root, "s3")
    with pytest.raises(StoragePathError):
        contained_path("bucket/prefix/db/t2/x", root, "s3", within="s3://bucket/prefix/db/t")
    assert contained_path("bucket/db/t/x", "bucket", "s3")  # a warehouse at the bucket root


def test_open_storage_roots(tmp_path: Path) -> None:
    local = open_storage(CatalogConfig.local(tmp_path).store)
    assert local.root == os.path.realpath(tmp_path / "warehouse")
    s3 = open_storage(ObjectStoreConfig("s3://bucket/prefix/"))
    assert (s3.scheme, s3.root) == ("s3", "bucket/prefix")


@pytest.mark.parametrize("name", TRAVERSAL_NAMES)
def test_new_locations_are_canonical_and_inside(tmp_path: Path, name: str) -> None:
    storage = local_storage(tmp_path / "warehouse")
    location = new_table_location(f"file://{storage.root}", "mine", name)
    assert is_canonical_location(location, storage)
    assert location.rsplit("/", 2)[-2] == "mine"
    assert location != new_table_location(f"file://{storage.root}", "mine", name)  # fresh id


def test_legacy_locations_that_are_not_canonical(tmp_path: Path) -> None:
    storage = local_storage(tmp_path / "warehouse")
    base = f"file://{storage.root}"
    assert is_canonical_location(f"{base}/mine/cpu", storage)
    assert is_canonical_location(f"{base}/mine/a b", storage)
    for location in [
        f"{base}/mine/../other/cpu",
        f"{base}/mine/../../../../victim",
        f"{base}/mine/%2e%2e",
        f"{base}/mine/a#b",
        f"{base}/mine/./cpu",
        "file:///elsewhere/cpu",
    ]:
        assert not is_canonical_location(location, storage), location
