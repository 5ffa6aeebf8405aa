"""A table's metadata log stays short: every commit copies the metadata (commit_properties.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from iox_catalog.commit_properties import METADATA_VERSIONS_KEPT, VERSIONS_PROPERTY


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    app = build_app(Settings(data_dir=tmp_path, wal_fsync=False))
    yield app
    app.close()


def persist_rows(app: App, times: int, table: str = "m") -> None:
    for n in range(times):
        app.engine.write_line_protocol("db", f"{table} v={n} {n}".encode(), principal=ANONYMOUS)
        app.persister.persist()


def test_new_tables_list_few_previous_metadata_files(app: App) -> None:
    persist_rows(app, 3 * METADATA_VERSIONS_KEPT)
    metadata = app.iceberg._iceberg.load_table(("db", "m")).metadata
    assert metadata.properties[VERSIONS_PROPERTY] == str(METADATA_VERSIONS_KEPT)
    assert len(metadata.metadata_log) <= METADATA_VERSIONS_KEPT
    rows = app.query.execute("db", "SELECT count(*) AS n FROM m").read_all()
    assert rows.column("n").to_pylist() == [3 * METADATA_VERSIONS_KEPT]


def test_older_tables_get_the_bound_and_a_set_value_is_kept(app: App) -> None:
    persist_rows(app, 1)
    persist_rows(app, 1, table="k")
    catalog = app.iceberg._iceberg
    with catalog.load_table(("db", "m")).transaction() as tx:  # a table from before the bound
        tx.remove_properties(VERSIONS_PROPERTY)
    with catalog.load_table(("db", "k")).transaction() as tx:  # its owner's choice
        tx.set_properties({VERSIONS_PROPERTY: "50"})
    app.close()
    restarted = build_app(app.settings)
    try:
        persist_rows(restarted, 2)
        persist_rows(restarted, 2, table="k")
        assert catalog.load_table(("db", "m")).properties[VERSIONS_PROPERTY] == str(
            METADATA_VERSIONS_KEPT
        )
        assert catalog.load_table(("db", "k")).properties[VERSIONS_PROPERTY] == "50"
    finally:
        restarted.close()
