"""A data file lost while the server runs: DataFusion would read it as empty; the persister's
periodic listing (``check_files``) finds it, and queries over its table then say so."""

from __future__ import annotations

from pathlib import Path

import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.errors import DataFileUnavailableError

DAY_NS = 86_400 * 10**9


def count(app: App, database: str, table: str) -> int:
    reader = app.query.execute(database, f"SELECT count(*) AS n FROM {table}")
    return reader.read_all().column("n")[0].as_py()


@pytest.mark.parametrize("damage", ["deleted", "truncated"])
def test_a_file_lost_after_registration_is_found_and_reported(tmp_path: Path, damage: str) -> None:
    settings = Settings(data_dir=tmp_path, wal_fsync=False, parquet_cache_size=0)
    app = build_app(settings)
    try:
        persister = app.persister
        for day in range(2):
            body = "\n".join(f"m,k=a v={i} {day * DAY_NS + i}" for i in range(10))
            app.engine.write_line_protocol("db", body.encode(), principal=ANONYMOUS)
            persister.persist()
        app.engine.write_line_protocol("other", b"m,k=a v=1 1", principal=ANONYMOUS)
        persister.persist()
        assert count(app, "db", "m") == 20  # registered: each file checked once
        assert persister.check_files() == 0
        lost = app.buffers.table("db", "m").files[0]
        path = Path(app.storage.path(lost.path))
        if damage == "deleted":
            path.unlink()
        else:
            path.write_bytes(path.read_bytes()[:100])
        assert persister.check_files() == 1
        with pytest.raises(DataFileUnavailableError) as raised:
            count(app, "db", "m")
        assert raised.value.path == lost.path and raised.value.table == "db.m"
        assert count(app, "other", "m") == 1
        assert persister.check_files() == 1  # still lost; the table is not rebuilt again
        assert count(app, "other", "m") == 1
    finally:
        app.close()
