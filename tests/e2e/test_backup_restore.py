"""Backup while writes go on, restore into a new node, and compare the answers.

The contract: a backup holds every write up to the WAL sequence it read, and none
after. A single writer sends numbered writes one after another, so the restored node
must hold exactly writes ``0..k`` for one ``k``: at least every write acknowledged
before the backup request was sent, at most every write sent before its answer came,
and each of those rows exactly as the source answers it.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from flight_iox.launcher import RunningServer, run_cli, start_server

BASE_NS = 1_700_000_000_000_000_000


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``flight-iox ARGS``, forked by the zygote (``restore`` imports PyIceberg and pyarrow:
    about 1 s of CPU in a new interpreter, five times in this module)."""
    return run_cli(list(args))


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        tmp_path_factory.mktemp("backup-src") / "data",
        "--auth", "required", "--persist-max-rows", "40", "--persist-interval", "0.2",
    )  # fmt: skip
    yield running
    running.stop()


@pytest.fixture(scope="module")
def tokens(source: RunningServer) -> dict[str, str]:
    url = f"{source.http_url}/api/v3/configure/token"
    admin = requests.post(f"{url}/admin", timeout=30).json()["token"]
    body = {"name": "reader", "permissions": [{"database": "*", "actions": ["read"]}]}
    reply = requests.post(url, json=body, headers={"Authorization": f"Bearer {admin}"}, timeout=30)
    assert reply.status_code == 201, reply.text
    return {"admin": admin, "reader": reply.json()["token"]}


class Writer(threading.Thread):
    """Numbered writes to two tables, one request at a time, each one WAL entry."""

    def __init__(self, server: RunningServer, token: str) -> None:
        super().__init__(daemon=True)
        self.url = f"{server.http_url}/api/v3/write_lp"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.sent = -1  # highest id sent (maybe not answered yet)
        self.acked = -1  # highest id acknowledged
        self.stop = threading.Event()
        self.errors: list[str] = []

    def write(self, i: int) -> None:
        self.sent = i
        body = (
            f"cpu,host=h{i % 3} usage={i * 0.5},id={i}i {BASE_NS + i * 1_000_000_000}\n"
            f"mem,host=h{i % 2} free={i * 7}i,id={i}i {BASE_NS + i * 1_000_000_000}\n"
        )
        reply = requests.post(
            self.url, params={"db": "ops"}, data=body, headers=self.headers, timeout=60
        )
        if reply.status_code != 204:
            self.errors.append(f"{i}: {reply.status_code} {reply.text}")
            self.stop.set()
            return
        self.acked = i

    def run(self) -> None:
        i = self.acked + 1
        while not self.stop.is_set():
            self.write(i)
            i += 1


def _rows(server: RunningServer, table: str, token: str | None) -> list[tuple[object, ...]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    reply = requests.get(
        f"{server.http_url}/api/v3/query_sql",
        params={"db": "ops", "q": f"SELECT * FROM {table} ORDER BY id", "format": "json"},
        headers=headers,
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    return [tuple(sorted(row.items())) for row in reply.json()]


def _ids(rows: list[tuple[object, ...]]) -> list[int]:
    return [int(dict(row)["id"]) for row in rows]  # type: ignore[call-overload]


def test_backup_while_writing_restores_exactly_a_prefix(
    source: RunningServer, tokens: dict[str, str], tmp_path: Path
) -> None:
    writer = Writer(source, tokens["admin"])
    for i in range(60):
        writer.write(i)
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    requests.post(f"{source.http_url}/api/v3/persist", headers=admin, timeout=60).raise_for_status()
    for i in range(60, 90):  # only in the WAL and the buffer, until a trigger persists them
        writer.write(i)
    writer.start()
    while writer.acked < 120:
        threading.Event().wait(0.01)
    acked_before = writer.acked
    target = tmp_path / "backup"
    result = _cli("backup", "--host", source.http_url, "--token", tokens["admin"],
                  "--to", str(target))  # fmt: skip
    sent_before_answer = writer.sent
    while writer.acked < sent_before_answer + 20 and not writer.errors:
        threading.Event().wait(0.01)
    writer.stop.set()
    writer.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert "WAL sequence" in result.stdout
    assert not writer.errors
    manifest = json.loads((target / "manifest.json").read_text())
    assert all(table["files"] for table in manifest["tables"])  # some rows were persisted
    assert manifest["wal"] and manifest["wal_sequence"] > 90  # and some only in the WAL

    restored_dir = tmp_path / "restored"
    result = _cli("restore", "--from", str(target), "--data-dir", str(restored_dir))
    assert result.returncode == 0, result.stderr
    restored = start_server(restored_dir)
    try:
        for table in ("cpu", "mem"):
            got = _rows(restored, table, None)
            ids = _ids(got)
            k = len(ids) - 1
            assert ids == list(range(k + 1)), f"{table}: not a prefix of the writes"
            assert acked_before <= k <= sent_before_answer, (table, acked_before, k)
            expected = [r for r in _rows(source, table, tokens["admin"]) if _ids([r])[0] <= k]
            assert got == expected
    finally:
        restored.stop()


def test_backup_needs_an_admin_token(
    source: RunningServer, tokens: dict[str, str], tmp_path: Path
) -> None:
    reply = requests.post(
        f"{source.http_url}/api/v3/backup",
        json={"to": str(tmp_path / "b")},
        headers={"Authorization": f"Bearer {tokens['reader']}"},
        timeout=60,
    )
    assert reply.status_code == 403, reply.text
    assert not (tmp_path / "b").exists()
    result = _cli("backup", "--host", source.http_url, "--token", tokens["reader"],
                  "--to", str(tmp_path / "b"))  # fmt: skip
    assert result.returncode != 0 and "403" in result.stderr


def test_backup_refuses_a_used_location(
    source: RunningServer, tokens: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "other.txt").write_text("x")
    reply = requests.post(
        f"{source.http_url}/api/v3/backup",
        json={"to": str(tmp_path / "used")},
        headers={"Authorization": f"Bearer {tokens['admin']}"},
        timeout=60,
    )
    assert reply.status_code == 400 and "not empty" in reply.json()["error"]


def test_restore_refuses_a_non_empty_data_dir(
    source: RunningServer, tokens: dict[str, str], tmp_path: Path
) -> None:
    result = _cli("backup", "--host", source.http_url, "--token", tokens["admin"],
                  "--to", str(tmp_path / "b"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "catalog.json").write_text("{}")
    result = _cli("restore", "--from", str(tmp_path / "b"), "--data-dir", str(busy))
    assert result.returncode != 0
    assert "is not empty" in result.stderr and "Traceback" not in result.stderr


def test_restore_refuses_a_backup_without_manifest(
    source: RunningServer, tokens: dict[str, str], tmp_path: Path
) -> None:
    result = _cli("backup", "--host", source.http_url, "--token", tokens["admin"],
                  "--to", str(tmp_path / "b"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    (tmp_path / "b" / "manifest.json").unlink()  # as a backup cut short leaves it
    result = _cli("restore", "--from", str(tmp_path / "b"), "--data-dir", str(tmp_path / "new"))
    assert result.returncode != 0
    assert "no manifest.json" in result.stderr and "Traceback" not in result.stderr


def test_files_of_an_evolved_spec_keep_their_partitions(
    source: RunningServer, tokens: dict[str, str], tmp_path: Path
) -> None:
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    specs = (["hour(time)"], ["day(time)", "bucket(2, host)"], ["host"])
    for step, partition_by in enumerate(specs):
        body = "\n".join(
            f"evo,host=h{i % 3} v={step * 100 + i}i {BASE_NS + (step * 100 + i) * 60_000_000_000}"
            for i in range(30)
        )
        reply = requests.post(f"{source.http_url}/api/v3/write_lp", params={"db": "parts"},
                              data=body, headers=admin, timeout=60)  # fmt: skip
        assert reply.status_code == 204, reply.text
        reply = requests.put(f"{source.http_url}/api/v3/configure/table", headers=admin,
                             json={"db": "parts", "table": "evo", "partition_by": partition_by},
                             timeout=60)  # fmt: skip
        assert reply.status_code == 200, reply.text
        persist = f"{source.http_url}/api/v3/persist"
        requests.post(persist, headers=admin, timeout=60).raise_for_status()
    result = _cli("backup", "--host", source.http_url, "--token", tokens["admin"],
                  "--to", str(tmp_path / "b"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    evo = next(t for t in manifest["tables"] if t["table"] == "evo")
    assert {tuple(f["partition_by"]) for f in evo["files"]} == {tuple(p) for p in specs}
    result = _cli("restore", "--from", str(tmp_path / "b"), "--data-dir", str(tmp_path / "new"))
    assert result.returncode == 0, result.stderr
    restored = start_server(tmp_path / "new")
    try:
        sql = "SELECT host, v, time FROM evo ORDER BY v"
        answers = []
        for server, headers in ((source, admin), (restored, {})):
            reply = requests.get(f"{server.http_url}/api/v3/query_sql", headers=headers,
                                 params={"db": "parts", "q": sql}, timeout=60)  # fmt: skip
            assert reply.status_code == 200, reply.text
            answers.append(reply.json())
        assert len(answers[0]) == 90 and answers[1] == answers[0]
        reply = requests.get(f"{restored.http_url}/api/v3/configure/table",
                             params={"db": "parts", "table": "evo"}, timeout=60)  # fmt: skip
        assert reply.json()["partition_by"] == ["host"]
    finally:
        restored.stop()


def test_restore_refuses_a_damaged_file_and_leaves_no_half_node(
    source: RunningServer, tokens: dict[str, str], tmp_path: Path
) -> None:
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    body = "\n".join(f"dmg,host=h{i} v={i}i {BASE_NS + i}" for i in range(20))
    reply = requests.post(f"{source.http_url}/api/v3/write_lp", params={"db": "dmg"},
                          data=body, headers=admin, timeout=60)  # fmt: skip
    assert reply.status_code == 204, reply.text
    requests.post(f"{source.http_url}/api/v3/persist", headers=admin, timeout=60).raise_for_status()
    result = _cli("backup", "--host", source.http_url, "--token", tokens["admin"],
                  "--to", str(tmp_path / "b"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    damaged = sorted((tmp_path / "b" / "data").iterdir())[-1]
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    result = _cli("restore", "--from", str(tmp_path / "b"), "--data-dir", str(tmp_path / "new"))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"{damaged} is damaged" in result.stderr
    assert not any((tmp_path / "new").iterdir())
