"""The admin bootstrap stays closed once an admin token existed; recovery is offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests

from flight_iox.launcher import start_server


def _recover(data_dir: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "flight_iox", "token", "recover-admin", "--data-dir"]
    return subprocess.run(
        [*command, str(data_dir)], capture_output=True, text=True, timeout=60, check=False
    )


def test_revoking_every_admin_keeps_the_bootstrap_closed(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir, "--auth", "required")
    try:
        url = f"{server.http_url}/api/v3/configure/token"
        first = requests.post(f"{url}/admin", timeout=30)
        assert first.status_code == 201
        admin = {"Authorization": f"Bearer {first.json()['token']}"}
        revoked = requests.delete(url, params={"name": "_admin"}, headers=admin, timeout=30)
        assert revoked.status_code == 200
        again = requests.post(f"{url}/admin", timeout=30)
        assert again.status_code == 409 and "recover-admin" in again.json()["error"]
        refused = _recover(data_dir)  # the server holds the data folder
        assert refused.returncode == 1 and "stop the server" in refused.stderr
    finally:
        server.stop()
    recovered = _recover(data_dir)
    assert recovered.returncode == 0, recovered.stderr
    secret = recovered.stdout.strip()
    assert secret.startswith("apiv3_")
    server = start_server(data_dir, "--auth", "required")
    try:
        url = f"{server.http_url}/api/v3/configure/token"
        listed = requests.get(url, headers={"Authorization": f"Bearer {secret}"}, timeout=30)
        assert listed.status_code == 200
        assert [t["name"] for t in listed.json()] == ["_admin"]
        assert requests.post(f"{url}/admin", timeout=30).status_code == 409
    finally:
        server.stop()


def test_recover_admin_needs_a_data_folder(tmp_path: Path) -> None:
    missing = _recover(tmp_path / "nowhere")
    assert missing.returncode == 1 and "not a data folder" in missing.stderr
    assert not (tmp_path / "nowhere").exists()
