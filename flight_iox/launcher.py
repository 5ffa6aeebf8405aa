"""Start and stop real ``flight-iox serve`` processes on free loopback ports.

Used by the end-to-end tests and the benchmarks, and handy in scripts: the
server picks free ports and this waits for its ready line to learn them.

Each start is a new ``python -m flight_iox serve`` process. After ``use_zygote()`` (the
test suite calls it) the process is forked from a zygote that imported the server once
(``flight_iox.zygote``), which saves the ~2 s of CPU the imports cost per start; the
server is as separate and as killable as before. A start whose environment differs from
the one ``use_zygote`` saw, or that passes ``fresh=True``, is still a new interpreter.
``run_cli`` runs any other ``flight-iox`` command to its end the same way.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import requests

from flight_iox.zygote import Zygote

READY = re.compile(r"flight-iox ready: http=(\S+) flight=(\S+)")


class ServerProcess(Protocol):
    """What a server's process offers: a ``subprocess.Popen`` or a ``ForkedProcess``."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def send_signal(self, sig: int) -> None: ...
    def terminate(self) -> None: ...
    def kill(self) -> None: ...


@dataclass
class _Forking:
    """The zygote of this process, once ``use_zygote`` asked for one (started on first use)."""

    env: dict[str, str]
    zygote: Zygote | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_forking: _Forking | None = None


def _server_env() -> dict[str, str]:
    """The environment a server starts with: ours, less any ``FLIGHT_IOX_*`` setting."""
    return {k: v for k, v in os.environ.items() if not k.startswith("FLIGHT_IOX_")}


def use_zygote() -> None:
    """Fork later starts from a zygote, unless ``FLIGHT_IOX_NO_ZYGOTE=1`` (Linux only).

    The environment is taken now: a later start in another environment (a test that set a
    variable) gets a new interpreter, since the zygote's libraries read some at import.
    """
    global _forking
    if os.environ.get("FLIGHT_IOX_NO_ZYGOTE") != "1" and sys.platform == "linux":
        _forking = _Forking(_server_env())


def stop_zygote() -> None:
    """End the zygote, if one runs; later starts are new interpreters."""
    global _forking
    forking, _forking = _forking, None
    if forking is not None and forking.zygote is not None:
        forking.zygote.close()


# Variables the zygote's libraries do not read at import, so a zygote started without them (or
# with other values) forks servers that see them as a fresh process would: pytest's current
# test name, the S3 credentials a test sets for its bucket (read when a client is made), and
# the allocator settings polars writes into the environment when a test imports it (read by
# polars' own allocator only; the server never loads polars).
_NOT_READ_AT_IMPORT = ("PYTEST_CURRENT_TEST", "AWS_", "_RJEM_MALLOC_CONF")


def _import_env(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if not k.startswith(_NOT_READ_AT_IMPORT)}


def _launch(
    args: list[str],
    log_path: Path,
    env: dict[str, str],
    fresh: bool,
    err_path: Path | None = None,
    in_path: Path | None = None,
) -> ServerProcess:
    """``python -m flight_iox *args``: forked by the zygote when it may be, else a new one.

    Its stdout and stderr go to ``log_path`` (an existing file), stderr to ``err_path`` if
    given; ``in_path`` is its stdin.
    """
    forking = _forking
    if not fresh and forking is not None and _import_env(env) == _import_env(forking.env):
        with forking.lock:
            if forking.zygote is None:
                forking.zygote = Zygote(_import_env(forking.env))
        forked = forking.zygote.start(args, log_path, env, err_path, in_path)
        if forked is not None:
            return forked
    with contextlib.ExitStack() as files:
        return subprocess.Popen(
            [sys.executable, "-m", "flight_iox", *args],
            stdin=files.enter_context(open(in_path, "rb")) if in_path else None,
            stdout=files.enter_context(open(log_path, "wb")),
            stderr=files.enter_context(open(err_path, "wb")) if err_path else subprocess.STDOUT,
            env=env,
        )


def run_cli(
    args: list[str], timeout: float = 300, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m flight_iox *args`` to its end: its exit status, stdout and stderr (text).

    Forked by the zygote like a server (a command such as ``restore`` or a ``serve`` that
    refuses its flags imports most of what a server does), else a new interpreter; either way
    a separate process, reading ``input`` (else nothing), in an environment without
    ``FLIGHT_IOX_*`` settings.
    """
    with tempfile.TemporaryDirectory(prefix="flight-iox-cli-") as folder:
        out, err, given = (Path(folder) / name for name in ("stdout", "stderr", "stdin"))
        out.write_bytes(b"")
        err.write_bytes(b"")
        given.write_text(input or "")
        process = _launch(list(args), out, _server_env(), False, err, given)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        return subprocess.CompletedProcess(
            [sys.executable, "-m", "flight_iox", *args],
            code,
            out.read_text(errors="replace"),
            err.read_text(errors="replace"),
        )


@dataclass
class RunningServer:
    """A server process and where to reach it."""

    process: ServerProcess
    http_url: str
    flight_uri: str
    data_dir: Path
    log_path: Path

    def log(self) -> str:
        """Everything the server has logged so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Signal the server and wait for it to exit; returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """``kill -9``: no chance to flush anything."""
        self.process.kill()
        self.process.wait(timeout=30)


def start_server(
    data_dir: Path,
    *extra: str,
    timeout: float = 60,
    verify: bool | str = True,
    fresh: bool = False,
) -> RunningServer:
    """Start ``flight-iox serve`` on ports the OS picks and wait until it says it is ready.

    ``verify`` is for the readiness check over HTTPS: a CA bundle path (e.g. a
    test's self-signed certificate) or False. ``fresh``: a new interpreter even when a
    zygote runs (for what only a fresh start shows).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"{data_dir.name}-{time.monotonic_ns()}.log"
    args = [
        "serve",
        "--data-dir",
        str(data_dir),
        "--http-addr",
        "127.0.0.1:0",
        "--flight-addr",
        "127.0.0.1:0",
        *extra,
    ]
    log_path.write_bytes(b"")
    process = _launch(args, log_path, _server_env(), fresh)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = READY.search(log_path.read_text(errors="replace"))
        if match:
            server = RunningServer(process, match.group(1), match.group(2), data_dir, log_path)
            requests.get(f"{server.http_url}/health", timeout=10, verify=verify).raise_for_status()
            return server
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"server not ready after {timeout}s:\n{log_path.read_text()}")
