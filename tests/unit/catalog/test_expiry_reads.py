"""Expiring snapshots reads each manifest once per process (through the catalog's
``ManifestEntries``), and still finds exactly the files that compaction unreferenced, and
deletes only those (cleanup.py's ``_Manifests``).

A table gains a manifest per persist, and expiry runs after each. When it read every manifest
of the snapshots it walked, its cost grew with the table's history (issue 20's soak).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pyiceberg.manifest import ManifestFile

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from iox_catalog import cleanup


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    app = build_app(Settings(data_dir=tmp_path, wal_fsync=False))
    yield app
    app.close()


def persist_row(app: App, n: int) -> None:
    """One row of its own (time ``n``), persisted as a file of its own."""
    app.engine.write_line_protocol("db", f"m v={n} {n}".encode(), principal=ANONYMOUS)
    app.persister.persist()


@pytest.fixture
def manifests_read(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the manifests read from storage, in order (the real reader runs)."""
    read: list[str] = []
    fetch = ManifestFile.fetch_manifest_entry

    def counted(self: ManifestFile, *args: object, **kwargs: object) -> object:
        read.append(self.manifest_path)
        return fetch(self, *args, **kwargs)

    monkeypatch.setattr(ManifestFile, "fetch_manifest_entry", counted)
    return read


def test_each_expiry_reads_only_the_manifests_new_since_the_last(
    app: App, manifests_read: list[str]
) -> None:
    by_expiry = []
    for n in range(7):
        persist_row(app, n)
        start = len(manifests_read)  # commits read manifests of their own: not counted
        app.iceberg.expire_snapshots("db", "m")
        by_expiry.append(manifests_read[start:])
    read = [path for paths in by_expiry for path in paths]
    assert len(read) == len(set(read))  # no manifest read by two expiries
    assert all(len(paths) <= 1 for paths in by_expiry[3:])  # the newest manifest at most
    rows = app.query.execute("db", "SELECT count(*) AS n FROM m").read_all()
    assert rows.column("n").to_pylist() == [7]


def test_files_a_compaction_replaced_are_the_ones_pending_deletion(app: App) -> None:
    for n in range(4):
        persist_row(app, n)
        app.iceberg.expire_snapshots("db", "m")  # manifests read and kept by path
    before = {f.path for f in app.buffers.table("db", "m").files}
    app.persister.compact(min_files=2)  # rewrites the four files as one, expires
    after = {f.path for f in app.buffers.table("db", "m").files}
    assert len(after) == 1 and not after & before
    persist_row(app, 4)  # expiry keeps two snapshots: the one before compaction goes now
    app.iceberg.expire_snapshots("db", "m")
    iceberg = app.iceberg._iceberg.load_table(("db", "m"))
    pending = set(cleanup.pending_files(iceberg))
    assert {uri.rsplit("/", 1)[-1] for uri in pending} == {p.rsplit("/", 1)[-1] for p in before}
    assert app.iceberg.delete_unreferenced("db", "m", 0) == 4
    live = app.buffers.table("db", "m").files
    assert len(live) == 2 and all(Path(f.path.removeprefix("file://")).exists() for f in live)
    assert not any(Path(p.removeprefix("file://")).exists() for p in before)
    rows = app.query.execute("db", "SELECT count(*) AS n FROM m").read_all()
    assert rows.column("n").to_pylist() == [5]
