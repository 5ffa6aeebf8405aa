"""A DELETE that rewrites an older file keeps the values newer files wrote over it."""

from __future__ import annotations

from pathlib import Path

from flight_iox.app import build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings


def test_a_delete_does_not_bring_back_overwritten_values(tmp_path: Path) -> None:
    """The rewritten file used to be committed above the newer one (last commit wins), so
    ``a`` read 1.0 again; the delete now merges overlapping files before it rewrites any.
    A field the newer write left out keeps the older write's value (field by field).
    """
    app = build_app(Settings(data_dir=tmp_path, wal_fsync=False))
    try:

        def write(body: str) -> None:
            app.engine.write_line_protocol("db", body.encode(), principal=ANONYMOUS)

        write("cpu,host=a v=1,u=7i 10\ncpu,host=b v=1 20")
        app.persister.persist()
        write("cpu,host=a v=2 10")  # overwrites a's v, in a newer file
        app.persister.persist()
        app.sql.scoped(ANONYMOUS).execute_update("db", "DELETE FROM cpu WHERE host = 'b'")
        rows = app.query.execute("db", "SELECT host, v, u FROM cpu ORDER BY host").read_all()
        assert rows.to_pylist() == [{"host": "a", "v": 2.0, "u": 7}]
        files = app.buffers.table("db", "cpu").files
        assert len(files) == 1  # the overlapping pair was merged, then rewritten
    finally:
        app.close()
