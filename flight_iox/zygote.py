"""A fork server for ``flight_iox.launcher``: import the server once, fork one process per start.

Most of the CPU a ``python -m flight_iox serve`` start costs is importing PyIceberg, pandas,
DataFusion and pyarrow (about 2 s of CPU each time). The test suite starts well over a hundred
servers, so ``launcher.use_zygote()`` (called by ``tests/conftest.py``) starts this module once
per test process: it imports the serve path and then, for each request, forks a process that
runs the very CLI entry ``python -m flight_iox`` runs, with the requested arguments, its
stdout and stderr in the log file.

The forked server is a real, separate process. It is made a child of the process that asked
for it (the requester marks itself a child subreaper, the zygote forks through an intermediate
that exits at once), so ``ForkedProcess`` waits for it and reads its exit status with
``waitpid`` as ``subprocess.Popen`` would; tests can SIGTERM, SIGSTOP or ``kill -9`` it.

The trap: forking a process that runs threads copies locks that those threads may hold. The
zygote forks only while it runs no Python thread but its main one, and imports nothing that
starts one; the native threads the preloaded libraries start (jemalloc's background thread
and OpenBLAS's pool, through pyarrow and numpy) both register fork handlers for this. The
zygote is for tests and scripts; a production server is started the ordinary way.

Protocol, over the zygote's stdin and stdout: one JSON line per request,
``{"argv": [...], "log": path, "cwd": path, "env": {...}, "requester": pid}`` (and
``"err": path`` for stderr apart from stdout, ``"in": path`` for stdin), answered by
``{"pid": n}`` or ``{"error": text}``. A forked server kills itself once its requester is gone
(``_end_with``).
"""

from __future__ import annotations

import atexit
import ctypes
import gc
import importlib
import json
import os
import runpy
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, NoReturn

# What ``python -m flight_iox serve`` imports before it serves (importing it here is the point),
# then what it imports on its way up and on its first requests (uvicorn's protocols, the
# SQLite dialect of the catalog, the InfluxQL statements). None of them starts a thread.
PRELOAD = (
    "flight_iox.cli.main",
    "flight_iox.cli.serve",
    "flight_iox.server",
    "uvicorn.lifespan.on",
    "uvicorn.loops.auto",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.auto",
    "uvicorn.protocols.websockets.auto",
    "anyio._backends._asyncio",
    "sqlalchemy.dialects.sqlite",
    "pyiceberg.avro.decoder_fast",
    "pyiceberg_core.transform",
    "flight_iox.influxql.parse_ddl",
    "flight_iox.influxql.parse_show",
    "flight_iox.influxql.select_agg",
    "flight_iox.influxql.select_finish",
    "flight_iox.influxql.select_top",
    "flight_iox.influxql.subquery",
)
REQUESTER_POLL_SECONDS = 2.0  # without a pidfd: how often a server checks its requester lives


def _reply(message: dict[str, Any]) -> None:
    os.write(1, (json.dumps(message) + "\n").encode())


def _become_server(request: dict[str, Any]) -> list[str]:
    """In the forked server: stdio as ``launcher`` gives a subprocess; the CLI arguments."""
    log = os.open(request["log"], os.O_WRONLY)
    errors = os.open(request["err"], os.O_WRONLY) if request.get("err") else log
    stdin = os.open(request.get("in") or os.devnull, os.O_RDONLY)
    os.dup2(stdin, 0)
    os.dup2(log, 1)
    os.dup2(errors, 2)
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # the control pipes; a Popen child has none
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    if "requester" in request:
        requester = int(request["requester"])
        watch = threading.Thread(target=_end_with, args=(requester,), daemon=True)
        watch.start()
    return list(request["argv"])


def _end_with(requester: int) -> None:
    """Kill this forked server once the process that asked for it is gone.

    A test process that is killed (an interrupted run, a worker pytest-xdist replaces) stops
    none of its servers, and they used to serve on, polling their catalogs, until the machine
    was restarted. Their data is a test's temporary folder, so nothing is lost. A pidfd
    becomes readable when its process ends, so the server ends at once without waking up
    to poll; where there is none (Linux before 5.3), it checks every few seconds.
    """
    try:
        handle = os.pidfd_open(requester)
    except ProcessLookupError:
        os.kill(os.getpid(), signal.SIGKILL)
        return
    except OSError:
        while True:
            time.sleep(REQUESTER_POLL_SECONDS)
            try:
                os.kill(requester, 0)
            except ProcessLookupError:
                os.kill(os.getpid(), signal.SIGKILL)
    select.select([handle], [], [])
    os.kill(os.getpid(), signal.SIGKILL)


def _fork_server(request: dict[str, Any]) -> list[str] | None:
    """Fork the server through an intermediate; its arguments in the server, None here.

    The intermediate exits as soon as the server is forked, so the server is reparented to
    the nearest subreaper: the process that asked for it. The zygote answers only after it
    has reaped the intermediate, when that reparenting is done.
    """
    read_end, write_end = os.pipe()
    intermediate = os.fork()
    if intermediate == 0:
        server = 1
        try:
            os.close(read_end)
            server = os.fork()
            if server == 0:
                return _become_server(request)
            os.write(write_end, str(server).encode())
        finally:
            if server != 0:
                os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        text = pipe.read()
    os.waitpid(intermediate, 0)
    _reply({"pid": int(text)} if text else {"error": "the intermediate process failed"})
    return None


def serve_requests() -> list[str]:
    """Answer requests until stdin closes (then exit); returns only in a forked server."""
    for module in PRELOAD:
        importlib.import_module(module)
    # What was imported stays alive in every server: out of the collector's sight, a server's
    # collections do not walk it (nor copy the pages it shares with the zygote by touching it).
    gc.freeze()
    _reply({"ready": os.getpid()})
    while line := sys.stdin.buffer.readline():
        request = json.loads(line)
        if threading.active_count() != 1:
            _reply({"error": f"{threading.active_count()} threads: forking is not safe"})
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        argv = _fork_server(request)
        if argv is not None:
            return argv
    raise SystemExit(0)


class ForkedProcess:
    """A server the zygote forked, with the part of ``subprocess.Popen``'s API tests use.

    It is this process's child (see ``Zygote``), so ``waitpid`` gives its exit status.
    """

    def __init__(self, pid: int, args: list[str]) -> None:
        self.pid = pid
        self.args = args
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code if the process has ended (minus the signal if one killed it)."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the end; ``subprocess.TimeoutExpired`` after ``timeout`` seconds."""
        if timeout is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
            return self.returncode
        deadline = time.monotonic() + timeout
        delay = 0.0005
        while (code := self.poll()) is None:
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout)
            delay = min(delay * 2, 0.05)
            time.sleep(delay)
        return code

    def send_signal(self, sig: int) -> None:
        """Signal the process unless it has ended (and been reaped), as Popen does."""
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


class Zygote:
    """The requesting side: starts the zygote and asks it for servers."""

    def __init__(self, env: dict[str, str]) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
        self.env = env
        self.lock = threading.Lock()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flight_iox.zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=self.env,
        )
        self.ready = False

    def _read(self) -> dict[str, Any]:
        stdout: IO[bytes] | None = self.process.stdout
        line = stdout.readline() if stdout else b""
        if not line:
            raise RuntimeError(f"the zygote exited with {self.process.wait()}")
        message: dict[str, Any] = json.loads(line)
        return message

    def start(
        self,
        args: list[str],
        log_path: Path,
        env: dict[str, str],
        err_path: Path | None = None,
        in_path: Path | None = None,
    ) -> ForkedProcess | None:
        """``python -m flight_iox *args`` forked, stdout and stderr to the log (an existing file;
        stderr to ``err_path`` if given), stdin from ``in_path`` (else nothing).

        None when the zygote may not fork now (it runs a thread); an error if it has died.
        """
        request = {
            "argv": args,
            "log": str(log_path),
            "err": str(err_path) if err_path else None,
            "in": str(in_path) if in_path else None,
            "cwd": os.getcwd(),
            "env": env,
            "requester": os.getpid(),
        }
        with self.lock:
            if not self.ready:
                self._read()
                self.ready = True
            assert self.process.stdin is not None
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()
            reply = self._read()
        if "pid" not in reply:
            return None
        return ForkedProcess(reply["pid"], [sys.executable, "-m", "flight_iox", *args])

    def close(self) -> None:
        """End the zygote (its servers live on until they are stopped)."""
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)
        if self.process.stdout:
            self.process.stdout.close()


def main() -> None:
    """The zygote; in a forked server, ``python -m flight_iox`` with the requested argv."""
    # As ``python -m flight_iox`` runs it (``run_module`` sets argv[0]): ``__main__.py`` calls
    # the CLI, which exits with SystemExit; the process then ends with that status.
    sys.argv = ["", *serve_requests()]
    code: object = 0
    try:
        runpy.run_module("flight_iox", run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        code = exit_.code
    _exit_as_the_interpreter_would(code)


def _exit_as_the_interpreter_would(code: object) -> NoReturn:
    """End a forked server as Python's exit would, without tearing the heap down object by object.

    Python's own exit joins the non-daemon threads, runs the ``atexit`` handlers (logging's
    flush among them) and flushes stdio; then it clears every module and runs the garbage
    collector over the whole heap, which in a forked server costs seconds of CPU (freeing
    pages still shared with the zygote copies them first). Everything the server must leave
    behind is written by its shutdown before this point, so the first three steps are done
    here, as ``multiprocessing`` ends its forked children, and the process then exits at once.
    An uncaught exception still ends the process the ordinary way (a traceback, status 1).
    """
    threading._shutdown()  # type: ignore[attr-defined]  # what Py_Finalize calls first
    atexit._run_exitfuncs()
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)  # SystemExit("message"), as the interpreter prints it
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
