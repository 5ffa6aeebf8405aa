"""The launcher's zygote: a forked server is a real process of its own, like a fresh one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from flight_iox.launcher import READY, run_cli, start_server
from flight_iox.zygote import ForkedProcess, Zygote


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    """A zygote of this test's own (the suite's, if any, is the launcher's business)."""
    own = Zygote(dict(os.environ))
    yield own
    own.close()


def serve_args(data_dir: Path) -> list[str]:
    return ["serve", "--data-dir", str(data_dir), "--http-addr", "127.0.0.1:0",
            "--flight-addr", "127.0.0.1:0"]  # fmt: skip


def fork_server(zygote: Zygote, tmp_path: Path, env: dict[str, str]) -> tuple[ForkedProcess, str]:
    """A forked server and its HTTP URL, once its log says it is ready."""
    log = tmp_path / "server.log"
    log.write_bytes(b"")
    process = zygote.start(serve_args(tmp_path / "data"), log, env)
    assert process is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if match := READY.search(log.read_text()):
            return process, match.group(1)
        assert process.poll() is None, log.read_text()
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"not ready after 60 s:\n{log.read_text()}")


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_a_forked_server_is_our_child_and_sees_the_requested_environment(
    zygote: Zygote, tmp_path: Path
) -> None:
    env = {**os.environ, "FLIGHT_IOX_MAX_DATABASES": "1"}  # the zygote started without it
    process, url = fork_server(zygote, tmp_path, env)
    try:
        assert parent_of(process.pid) == os.getpid()  # reparented: waitpid gives its status
        assert process.pid != zygote.process.pid
        first = requests.post(f"{url}/api/v3/write_lp?db=one", data="m v=1 1\n", timeout=30)
        assert first.status_code == 204, first.text
        second = requests.post(f"{url}/api/v3/configure/database", json={"db": "two"}, timeout=30)
        assert second.status_code == 422, second.text  # the variable took effect
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()
        assert b"flight_iox.zygote" in cmdline  # what ps shows: forked, not exec'd
        process.terminate()
        assert process.wait(timeout=30) == 0  # SIGTERM is a clean stop, as for `serve`
        assert "stopped" in (tmp_path / "server.log").read_text()
    finally:
        process.kill()


def test_a_forked_server_can_be_stopped_and_killed(zygote: Zygote, tmp_path: Path) -> None:
    process, url = fork_server(zygote, tmp_path, dict(os.environ))
    try:
        process.send_signal(signal.SIGSTOP)
        with pytest.raises(requests.exceptions.Timeout):
            requests.get(f"{url}/health", timeout=1)
        assert process.poll() is None
        process.send_signal(signal.SIGCONT)
        assert requests.get(f"{url}/health", timeout=10).status_code == 200
        process.kill()
        assert process.wait(timeout=30) == -signal.SIGKILL
        process.kill()  # already reaped: a no-op, as for Popen
        assert process.poll() == -signal.SIGKILL
    finally:
        process.kill()


def test_a_fresh_start_is_a_new_interpreter(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", fresh=True)
    try:
        assert isinstance(server.process, subprocess.Popen)
        cmdline = Path(f"/proc/{server.process.pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[:4] == [sys.executable.encode(), b"-m", b"flight_iox", b"serve"]
    finally:
        assert server.stop() == 0


def test_a_forked_command_can_keep_stderr_apart(zygote: Zygote, tmp_path: Path) -> None:
    out, err = tmp_path / "out", tmp_path / "err"
    out.write_bytes(b"")
    err.write_bytes(b"")
    bad = ["serve", "--data-dir", str(tmp_path / "d"), "--catalog-property", "no-equals-sign"]
    process = zygote.start(bad, out, dict(os.environ), err)
    assert process is not None
    assert process.wait(timeout=60) == 2  # click's usage error
    assert "expected KEY=VALUE" in err.read_text() and out.read_text() == ""


def test_run_cli_gives_the_status_stdout_and_stderr(tmp_path: Path) -> None:
    helped = run_cli(["restore", "--help"], timeout=60)
    assert helped.returncode == 0 and "--from" in helped.stdout and helped.stderr == ""
    refused = run_cli(["serve", "--data-dir", str(tmp_path / "d"), "--catalog-property", "x"])
    assert refused.returncode == 2 and refused.stdout == ""
    assert "expected KEY=VALUE" in refused.stderr


REQUESTER = """
import os, sys, time
from pathlib import Path
from flight_iox.zygote import Zygote
zygote = Zygote(dict(os.environ))
log = Path(sys.argv[1])
log.write_bytes(b"")
args = ["serve", "--data-dir", sys.argv[2], "--http-addr", "127.0.0.1:0",
        "--flight-addr", "127.0.0.1:0"]
print(zygote.start(args, log, dict(os.environ)).pid, flush=True)
time.sleep(600)
"""


def ended(pid: int) -> bool:
    """Whether ``pid`` has exited (reaping it if it became our child, as orphans of a killed
    requester do: this process is a subreaper once it has a zygote)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
    except ChildProcessError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


def test_a_forked_server_ends_when_its_requester_is_killed(tmp_path: Path) -> None:
    requester = subprocess.Popen(
        [sys.executable, "-c", REQUESTER, str(tmp_path / "server.log"), str(tmp_path / "data")],
        stdout=subprocess.PIPE,
    )
    assert requester.stdout is not None
    server = int(requester.stdout.readline())
    try:
        assert not ended(server)
        requester.kill()  # as an interrupted run's worker: it stops none of its servers
        requester.wait(timeout=30)
        deadline = time.monotonic() + 120
        while not ended(server) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ended(server), "the orphaned server still runs"
    finally:
        requester.kill()
        requester.wait(timeout=30)
        requester.stdout.close()
        if not ended(server):
            os.kill(server, signal.SIGKILL)
