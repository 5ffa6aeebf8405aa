"""Traversal names through the engine: persist, compaction, expiry and drops stay in their folder.

The attack this guards against: a measurement ``../../../../victim`` became a table
location outside the data folder, and compaction's orphan cleanup deleted every old
Parquet file it found there; ``../other/cpu`` in ``mine`` shared ``other.cpu``'s folder
and compaction deleted ``other``'s files.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.errors import StoragePathError
from flight_iox.persist.compactor import compact_table
from flight_iox.sql_quote import quote_identifier
from iox_catalog.cleanup import PENDING_PROPERTY
from iox_catalog.files import WrittenFile
from iox_catalog.locations import ROOT_PROPERTY
from iox_catalog.schema import COLUMNS_PROPERTY, ColumnKinds, file_schema
from iox_datamodel.columns import ColumnRole, FieldType
from tests.memory_folder import MEMORY_FOLDER

TRAVERSAL_NAMES = [
    "../../../../victim", "../other/cpu", "..", ".", "a/b", "a\\b", "%2e%2e", "/abs/victim",
    "x" * 300, "ünï cødé", "a.b", "cpu",
]  # fmt: skip
OLD = time.time() - 3 * 86_400


def lp_name(name: str) -> str:
    return name.replace(",", "\\,").replace(" ", "\\ ")


def tree(folder: Path) -> dict[str, tuple[int, float]]:
    """Every file under ``folder`` with its size and mtime."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime)
        for p in folder.rglob("*")
        if p.is_file()
    }


def victim_folder(root: Path) -> Path:
    """A folder of old Parquet files where the names used to lead."""
    for sub in ("victim/data/time_day=1970-01-01", "abs/victim/data"):
        folder = root / sub
        folder.mkdir(parents=True)
        for i in range(3):
            path = folder / f"old-{i}.parquet"
            pq.write_table(pa.table({"x": [i]}), path)
            os.utime(path, (OLD, OLD))
    return root / "victim"


@pytest.fixture
def memory_path() -> Iterator[Path]:
    """A folder in memory where there is /dev/shm: each catalog commit syncs SQLite's file."""
    with tempfile.TemporaryDirectory(dir=MEMORY_FOLDER) as folder:
        yield Path(folder)


@pytest.fixture
def app(memory_path: Path) -> App:
    settings = Settings(
        data_dir=memory_path / "x" / "data", wal_fsync=False, persist_max_age_seconds=3600.0
    )
    running = build_app(settings)
    yield running
    running.close()


def count(app: App, database: str, table: str) -> int:
    sql = f"SELECT count(*) AS n FROM {quote_identifier(table)}"
    return app.query.execute(database, sql).read_all().column("n")[0].as_py()


def schema_of(app: App, database: str, table: str) -> pa.Schema:
    return app.catalog.database(database).tables[table].arrow_schema()


def compact_all(app: App, database: str, grace: float = 0.0) -> int:
    deleted = 0
    for table in app.catalog.database(database).tables:
        schema = schema_of(app, database, table)
        report = compact_table(app.tables, database, table, schema, 2, grace)
        deleted += report.orphans_deleted
    return deleted


def test_traversal_names_never_leave_their_folder(app: App, memory_path: Path) -> None:
    victim_folder(memory_path)
    persister = app.persister
    app.engine.write_line_protocol(
        "other", b"cpu,host=a secret=1i 1000\ncpu,host=b secret=2i 2000", principal=ANONYMOUS
    )
    persister.persist()
    other_files = [f.path for f in app.buffers.table("other", "cpu").files]
    for uri in other_files:  # old enough for any age-based cleanup
        os.utime(uri.removeprefix("file://"), (OLD, OLD))
    outside = {k: v for k, v in tree(memory_path).items() if not k.startswith("x/")}

    deleted = 0
    for round_ in range(4):  # several files per table, then compaction, twice
        body = "\n".join(f"{lp_name(n)},k=a v={round_}i {1000 + round_}" for n in TRAVERSAL_NAMES)
        outcome = app.engine.write_line_protocol("mine", body.encode(), principal=ANONYMOUS)
        assert not outcome.errors
        assert not persister.persist().failures
        if round_ % 2:
            deleted += compact_all(app, "mine")
    deleted += compact_all(app, "mine") + compact_all(app, "other")

    assert {k: v for k, v in tree(memory_path).items() if not k.startswith("x/")} == outside
    assert all(Path(uri.removeprefix("file://")).exists() for uri in other_files)
    assert count(app, "other", "cpu") == 2
    warehouse = Path(app.storage.root)
    for name in TRAVERSAL_NAMES:
        assert count(app, "mine", name) == 4, name
        stored = app.iceberg.load("mine", name)
        folder = Path(stored.location.removeprefix("file://"))
        assert folder.parent == warehouse / "mine"
        on_disk = {str(p) for p in (folder / "data").rglob("*.parquet")}
        live = {f.path.removeprefix("file://") for f in stored.files.files}
        # The first compaction's inputs are gone; the second's wait for one more commit.
        assert live <= on_disk and len(on_disk - live) == 3
    assert deleted == 2 * len(TRAVERSAL_NAMES)
    assert sorted(p.name for p in warehouse.iterdir()) == ["mine", "other"]


def test_deletion_waits_for_the_grace_period(app: App) -> None:
    persister = app.persister
    for i in range(3):
        app.engine.write_line_protocol("db", f"m v={i} {1000 + i}".encode(), principal=ANONYMOUS)
        persister.persist()
    compact_all(app, "db", grace=3600)
    app.engine.write_line_protocol("db", b"m v=9 5000", principal=ANONYMOUS)
    persister.persist()
    assert compact_all(app, "db", grace=3600) == 0  # unreferenced, but too recent
    iceberg = app.iceberg._iceberg.load_table(("db", "m"))
    assert len(json.loads(iceberg.properties[PENDING_PROPERTY])) == 3
    assert compact_all(app, "db", grace=0) == 3
    iceberg = app.iceberg._iceberg.load_table(("db", "m"))
    assert PENDING_PROPERTY not in iceberg.properties
    assert count(app, "db", "m") == 4


def test_pending_paths_outside_the_table_folder_are_never_deleted(
    app: App, memory_path: Path
) -> None:
    victim = victim_folder(memory_path)
    app.engine.write_line_protocol("db", b"m v=1 1000\nn v=1 1000", principal=ANONYMOUS)
    app.persister.persist()
    sibling = app.iceberg.load("db", "n").files.files[0].path
    before = tree(victim)
    forged = {f"file://{p}": 0 for p in victim.rglob("*.parquet")}
    forged[sibling] = 0  # another table's live file
    iceberg = app.iceberg._iceberg.load_table(("db", "m"))
    with iceberg.transaction() as tx:
        tx.set_properties({PENDING_PROPERTY: json.dumps(forged)})
    assert app.iceberg.delete_unreferenced("db", "m", 0) == 0
    assert tree(victim) == before
    assert Path(sibling.removeprefix("file://")).exists()
    assert count(app, "db", "n") == 1


def legacy_table(app: App, database: str, name: str, location: str) -> None:
    """A table as an earlier version created it: its location made from the raw name."""
    kinds: ColumnKinds = {"k": ColumnRole.TAG, "v": FieldType.INTEGER}
    app.iceberg.create_database(database)
    app.iceberg._iceberg.create_table(
        (database, name),
        schema=file_schema(kinds),
        location=location,
        properties={COLUMNS_PROPERTY: json.dumps(kinds)},
    )


def test_legacy_tables_with_unsafe_locations_get_a_safe_folder(app: App, memory_path: Path) -> None:
    victim = victim_folder(memory_path)
    warehouse = app.storage.root
    app.engine.write_line_protocol("other", b"cpu,k=a v=1i 1000", principal=ANONYMOUS)
    persister = app.persister
    persister.persist()
    other_before = tree(Path(app.iceberg.load("other", "cpu").location.removeprefix("file://")))
    legacy_table(app, "mine", "../../victim", f"file://{victim}")
    legacy_table(app, "mine", "../other/cpu", f"file://{warehouse}/mine/../other/cpu")
    legacy_table(app, "mine", "plain", f"file://{warehouse}/mine/plain")
    before = tree(victim)
    for i in range(4):
        body = f"../../victim,k=a v={i}i {1000 + i}\n../other/cpu,k=a v={i}i {1000 + i}"
        app.engine.write_line_protocol(
            "mine", f"{body}\nplain,k=a v={i}i {1000 + i}".encode(), principal=ANONYMOUS
        )
        assert not persister.persist().failures
        compact_all(app, "mine")
    assert tree(victim) == before
    for name in ("../../victim", "../other/cpu"):
        iceberg = app.iceberg._iceberg.load_table(("mine", name))
        root = iceberg.properties[ROOT_PROPERTY]
        assert root.startswith(f"file://{warehouse}/mine/")
        files = app.iceberg.load("mine", name).files.files
        assert all(f.path.startswith(root + "/data/") for f in files)
        assert count(app, "mine", name) == 4
    plain = app.iceberg._iceberg.load_table(("mine", "plain"))
    assert ROOT_PROPERTY not in plain.properties  # a plain legacy location is kept
    other_after = tree(Path(app.iceberg.load("other", "cpu").location.removeprefix("file://")))
    assert {k: v for k, v in other_after.items() if k in other_before} == other_before
    app.iceberg.drop_table("mine", "../../victim")
    assert tree(victim) == before  # the purge leaves what lies outside the table's folder


def test_drops_purge_only_the_tables_own_folder(app: App, memory_path: Path) -> None:
    victim = victim_folder(memory_path)
    persister = app.persister
    app.engine.write_line_protocol(
        "mine", b"../other/cpu v=1 1000\n.. v=1 1000", principal=ANONYMOUS
    )
    app.engine.write_line_protocol("other", b"cpu v=1 1000", principal=ANONYMOUS)
    persister.persist()
    dropped = Path(app.iceberg.load("mine", "..").location.removeprefix("file://"))
    kept = Path(app.iceberg.load("other", "cpu").location.removeprefix("file://"))
    kept_files = tree(kept)
    app.iceberg.drop_table("mine", "..")
    assert not [p for p in dropped.rglob("*") if p.is_file()]
    app.engine.delete_database("mine")
    assert tree(kept) == kept_files
    assert count(app, "other", "cpu") == 1
    assert tree(victim)


def test_recorded_files_must_be_the_tables_own(app: App, memory_path: Path) -> None:
    victim = victim_folder(memory_path)
    app.engine.write_line_protocol("db", b"m v=1 1000", principal=ANONYMOUS)
    app.persister.persist()
    schema = schema_of(app, "db", "m")
    (own,) = app.iceberg.load("db", "m").files.files
    assert own.partition is not None
    foreign = WrittenFile(f"file://{next(victim.rglob('*.parquet'))}", own.partition)
    with pytest.raises(StoragePathError, match="refused storage path"):
        app.iceberg.commit_files("db", "m", schema, [foreign], 1)
    with pytest.raises(StoragePathError):
        app.iceberg.replace_files("db", "m", remove=[], add=[foreign], model_schema=schema)
