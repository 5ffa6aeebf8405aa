"""Which statements refresh the live system tables (``reads_system_rows``).

Every query moves the query log, so a statement that refreshed the system tables on every
run was planned again each time; only statements naming ``system`` need their rows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flight_iox.app import build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.query.reads import reads_system_rows


@pytest.mark.parametrize(
    ("sql", "reads"),
    [
        ("SELECT * FROM system.queries", True),
        ('SELECT * FROM "system"."queries"', True),
        ('SELECT * FROM u&"s\\0079stem".queries', True),  # escapes: unknown, so yes
        ("SELECT table_name FROM information_schema.tables", False),
        ("SHOW TABLES", False),
        ("SELECT count(*) FROM cpu", False),
    ],
)
def test_only_statements_naming_system_read_its_rows(sql: str, reads: bool) -> None:
    assert reads_system_rows(sql) is reads


def test_listings_after_queries_still_show_the_system_tables(tmp_path: Path) -> None:
    """A listing no longer refreshes the live system tables; it still lists them."""
    app = build_app(Settings(data_dir=tmp_path, wal_fsync=False))
    try:
        app.engine.write_line_protocol("db", b"cpu,host=a v=1 1", principal=ANONYMOUS)

        def run(sql: str) -> list[dict[str, object]]:
            return app.query.execute("db", sql).read_all().to_pylist()

        listing = "SELECT table_schema, table_name FROM information_schema.tables"
        for _ in range(2):
            run("SELECT count(*) FROM cpu")
            tables = {(r["table_schema"], r["table_name"]) for r in run(listing)}
            assert {("iox", "cpu"), ("system", "queries"), ("system", "tables")} <= tables
    finally:
        app.close()
