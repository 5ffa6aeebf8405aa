"""A server with the processing engine for the e2e tests: plugins uploaded, tokens granted.

``start_engine`` starts a real server with ``--auth required`` and ``--plugin-dir``,
uploads every plugin file of ``tests/e2e/plugins`` through ``PUT /api/v3/plugins/files``
(as the admin) and grants ``creator`` (read, write, create on ``DB``), ``writer``
(read, write) and ``reader`` (read). ``wait_rows`` polls a query until its rows satisfy
a condition: plugins run after the write is acknowledged, so tests wait for their effect
(with a generous deadline, never a timing assertion).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from flight_iox.launcher import RunningServer, run_cli, start_server
from tests.e2e.tokens import bearer, bootstrap_admin, grant

DB = "plugins_e2e"
PLUGINS = Path(__file__).parent / "plugins"
TRIGGER_ROUTE = "/api/v3/configure/processing_engine_trigger"
_TIMEOUT = 30
WAIT_SECONDS = 60.0


@dataclass
class Engine:
    """The running server and its tokens."""

    server: RunningServer
    plugin_dir: Path
    admin: str
    creator: str
    writer: str
    reader: str

    @property
    def url(self) -> str:
        return self.server.http_url

    def call(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> requests.Response:
        """An HTTP request (as the admin unless ``token``)."""
        headers = bearer(token or self.admin)
        return requests.request(
            method, f"{self.url}{path}", headers=headers, timeout=_TIMEOUT, **kwargs
        )

    def trigger(
        self,
        name: str,
        plugin: str,
        spec: str,
        args: dict[str, str] | None = None,
        token: str | None = None,
        **settings: object,
    ) -> requests.Response:
        """``POST /api/v3/configure/processing_engine_trigger`` (as ``creator`` by default)."""
        body = {
            "db": DB,
            "trigger_name": name,
            "plugin_filename": plugin,
            "trigger_specification": spec,
            "trigger_arguments": args,
            "trigger_settings": settings,
        }
        return self.call("POST", TRIGGER_ROUTE, token or self.creator, json=body)

    def write(self, lines: str, db: str = DB) -> None:
        """Write line protocol (nanoseconds) as the writer."""
        reply = self.call(
            "POST", "/api/v3/write_lp", self.writer, params={"db": db}, data=lines.encode()
        )
        assert reply.status_code == 204, reply.text

    def sql(self, sql: str, db: str = DB) -> list[dict[str, Any]]:
        """Rows of a query, as the admin (``[]`` while the table does not exist yet)."""
        reply = self.call("GET", "/api/v3/query_sql", params={"db": db, "q": sql, "format": "json"})
        if reply.status_code in (400, 404) and "not found" in reply.text:
            return []
        assert reply.status_code == 200, reply.text
        rows: list[dict[str, Any]] = reply.json()
        return rows

    def wait_rows(
        self, sql: str, done: Callable[[list[dict[str, Any]]], bool], db: str = DB
    ) -> list[dict[str, Any]]:
        """Poll ``sql`` until ``done(rows)``; fails with the last rows and the plugin logs."""
        deadline = time.monotonic() + WAIT_SECONDS
        rows = self.sql(sql, db)
        while not done(rows):
            if time.monotonic() > deadline:
                logs = self.sql("SELECT * FROM system.processing_engine_logs")
                raise AssertionError(f"still {rows} after {WAIT_SECONDS}s; logs: {logs}")
            time.sleep(0.1)
            rows = self.sql(sql, db)
        return rows

    def logs(self, trigger: str) -> list[dict[str, Any]]:
        """The trigger's lines of ``system.processing_engine_logs``."""
        return self.sql(
            "SELECT log_level, log_text FROM system.processing_engine_logs "
            f"WHERE trigger_name = '{trigger}' ORDER BY event_time"
        )

    def cli(self, *args: str, token: str | None = None) -> str:
        """Run ``flight-iox ARGS --host URL --token TOKEN`` (forked from the zygote); its stdout."""
        command = [*args, "--host", self.url, "--token", token or self.creator]
        done = run_cli(command, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout


def start_engine(root: Path, *extra: str) -> Engine:
    """A server over ``root/data`` with plugins in ``root/plugins``, uploaded by the admin."""
    plugin_dir = root / "plugins"
    plugin_dir.mkdir(exist_ok=True)
    server = start_server(
        root / "data",
        "--auth", "required",
        "--plugin-dir", str(plugin_dir),
        "--plugin-call-timeout", "3",
        "--plugin-memory-limit", "512MiB",
        *extra,
    )  # fmt: skip
    admin = bootstrap_admin(server.http_url)
    engine = Engine(
        server,
        plugin_dir,
        admin,
        grant(server.http_url, admin, "creator", DB, ["read", "write", "create"]),
        grant(server.http_url, admin, "writer", DB, ["read", "write"]),
        grant(server.http_url, admin, "reader", DB, ["read"]),
    )
    reply = engine.call("POST", "/api/v3/configure/database", json={"db": DB})
    assert reply.status_code == 201, reply.text  # a trigger's database must exist
    for path in sorted(PLUGINS.glob("*.py")):
        body = {"plugin_name": path.name, "content": path.read_text()}
        reply = engine.call("PUT", "/api/v3/plugins/files", json=body)
        assert reply.status_code == 200, reply.text
    return engine


def reopen(engine: Engine, *extra: str) -> Engine:
    """The same data and plugin folders served again (after ``stop`` or ``kill``)."""
    server = start_server(
        engine.server.data_dir,
        "--auth", "required",
        "--plugin-dir", str(engine.plugin_dir),
        "--plugin-call-timeout", "3",
        *extra,
    )  # fmt: skip
    return Engine(
        server, engine.plugin_dir, engine.admin, engine.creator, engine.writer, engine.reader
    )
