"""Manifest entries are read once per manifest and kept, within a bound."""

from __future__ import annotations

from pathlib import Path

from flight_iox.app import build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from iox_catalog.manifest_entries import ManifestEntries
from iox_catalog.opening import open_catalog


def test_a_manifest_is_read_once_and_the_oldest_go_past_the_bound(tmp_path: Path) -> None:
    app = build_app(Settings(data_dir=tmp_path, wal_fsync=False))
    try:
        for i in range(3):  # three fast appends: three manifests of one entry each
            body = f"cpu,host=h{i} v={i} {i}".encode()
            app.engine.write_line_protocol("db", body, principal=ANONYMOUS)
            app.persister.persist()
        table = open_catalog(app.iceberg.config).load_table(("db", "cpu"))
    finally:
        app.close()
    snapshot = table.current_snapshot()
    assert snapshot is not None
    manifests = snapshot.manifests(table.io)
    assert len(manifests) == 3
    held = ManifestEntries(max_entries=2)
    first = [held.live(m, table.io) for m in manifests]
    assert [len(entries) for entries in first] == [1, 1, 1]
    assert held.live(manifests[2], table.io) is first[2]  # kept: not read again
    again = held.live(manifests[0], table.io)  # the oldest went at the third: read again
    assert again is not first[0]
    assert [e.data_file.file_path for e in again] == [e.data_file.file_path for e in first[0]]
