"""Backup of a server whose warehouse is in S3, to S3, restored into a local node (moto)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests

from flight_iox.launcher import RunningServer, run_cli, start_server
from tests.e2e.moto_s3 import REGION, MotoS3, moto_s3, set_aws_env

__all__ = ["moto_s3"]  # the fixture, imported for pytest

T0 = 1_700_000_000_000_000_000


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    set_aws_env(monkeypatch)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``flight-iox ARGS`` in a process of its own (forked from the zygote when one runs)."""
    return run_cli(list(args))


def _rows(server: RunningServer) -> list[dict[str, object]]:
    reply = requests.get(
        f"{server.http_url}/api/v3/query_sql",
        params={"db": "s3db", "q": "SELECT * FROM cpu ORDER BY n", "format": "json"},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    rows: list[dict[str, object]] = reply.json()
    return rows


def test_backup_to_s3_and_restore_from_it(tmp_path: Path, moto_s3: MotoS3) -> None:
    source = start_server(tmp_path / "src", *moto_s3.flags(prefix="warehouse"), timeout=120)
    try:
        url = f"{source.http_url}/api/v3/write_lp"
        for start in (0, 50):  # the first half persisted to S3, the second only in the WAL
            body = "\n".join(
                f"cpu,host=h{i % 3} usage={i}.5,n={i}i {T0 + i * 1_000_000_000}"
                for i in range(start, start + 50)
            )
            requests.post(url, params={"db": "s3db"}, data=body, timeout=60).raise_for_status()
            if start == 0:
                persist = f"{source.http_url}/api/v3/persist"
                requests.post(persist, timeout=60).raise_for_status()
        destination = f"s3://{moto_s3.bucket}/backups/one"
        result = _cli("backup", "--host", source.http_url, "--to", destination)
        assert result.returncode == 0, result.stderr
        assert f"{moto_s3.bucket}/backups/one/manifest.json" in moto_s3.objects("backups")
        expected = _rows(source)
    finally:
        source.stop()
    assert len(expected) == 100
    restored_dir = tmp_path / "restored"
    result = _cli("restore", "--from", destination, "--data-dir", str(restored_dir),
                  "--s3-endpoint", moto_s3.endpoint, "--s3-region", REGION,
                  "--s3-allow-http")  # fmt: skip
    assert result.returncode == 0, result.stderr
    restored = start_server(restored_dir)
    try:
        assert _rows(restored) == expected
    finally:
        restored.stop()
