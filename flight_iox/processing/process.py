"""One plugin worker process, from the server's side: start it, call it, kill it.

A call sends ``("call", entry_point, arguments)`` and then serves the worker's
requests (queries, synchronous writes, cache) until it answers, all within the
call's deadline. A worker that overruns it is killed (SIGKILL: a plugin looping in C
code ignores anything gentler); one that dies (``os._exit``, a segfault, the memory
limit) is noticed by the closed pipe. Either way the call fails with
``PluginFailure`` and the next call starts a fresh worker, so a plugin can stop
only its own trigger, never the server.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from flight_iox.errors import FlightIoxError

log = logging.getLogger(__name__)

RequestHandler = Callable[[str, tuple[Any, ...]], Any]
LogHandler = Callable[[str, str], None]


class PluginFailure(Exception):
    """A plugin call did not return: it raised, timed out, or its worker died."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # raised | timeout | crashed | broken
        self.message = message


class RequestRefused(Exception):
    """A worker's request the server refuses; the plugin sees ``kind``'s exception."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class CallResult:
    """What a call returned, and the writes the plugin queued."""

    value: Any
    queued_writes: list[tuple[str | None, str]]


class PluginProcess:
    """A worker running one plugin file; started on first call, restarted after a failure."""

    def __init__(self, path: Path, memory_limit: int, label: str) -> None:
        self._path = path
        self._memory_limit = memory_limit
        self._label = label
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._loaded_mtime: float | None = None

    @property
    def pid(self) -> int | None:
        """The worker's process id (None: not running)."""
        return self._process.pid if self._process is not None else None

    def _start(self, deadline: float) -> Connection:
        parent, child = socket.socketpair()
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable, "-m", "flight_iox.processing.worker",
                    str(child.fileno()), str(self._memory_limit), str(self._path),
                    str(os.getpid()),
                ],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                cwd=self._path.parent if self._path.is_file() else self._path,
                start_new_session=True,  # a Ctrl-C at the terminal is the server's to handle
            )  # fmt: skip
        finally:
            child.close()
        conn = Connection(os.dup(parent.fileno()))
        parent.close()
        self._conn = conn
        self._loaded_mtime = _mtime(self._path)
        first = self._receive(conn, deadline)
        if first[0] != "ready":
            self.kill()
            raise PluginFailure("broken", f"plugin {self._path.name} failed to load:\n{first[1]}")
        return conn

    def _receive(self, conn: Connection, deadline: float) -> tuple[Any, ...]:
        remaining = deadline - time.monotonic()
        try:
            ready = conn.poll(max(remaining, 0))
        except OSError:
            ready = True
        if not ready:
            self.kill()
            raise PluginFailure("timeout", "plugin call timed out; its worker was killed")
        try:
            message: tuple[Any, ...] = conn.recv()
        except (EOFError, OSError):
            code = self._reap()
            raise PluginFailure("crashed", f"plugin worker exited (status {code})") from None
        return message

    def call(
        self,
        entry_point: str,
        arguments: dict[str, Any],
        *,
        timeout: float,
        on_request: RequestHandler,
        on_log: LogHandler,
    ) -> CallResult:
        """Run ``entry_point`` in the worker; ``PluginFailure`` unless it returned."""
        deadline = time.monotonic() + timeout
        conn = self._conn
        if conn is not None and _mtime(self._path) != self._loaded_mtime:
            self.kill()  # the file changed: load it afresh
            conn = None
        if conn is None or self._process is None or self._process.poll() is not None:
            self.kill()
            conn = self._start(deadline)
        try:
            conn.send(("call", entry_point, arguments))
        except OSError:
            code = self._reap()
            raise PluginFailure("crashed", f"plugin worker exited (status {code})") from None
        try:
            return self._serve_call(conn, deadline, on_request, on_log)
        except BaseException:  # the worker is mid-call: it cannot be reused
            self.kill()
            raise

    def _serve_call(
        self, conn: Connection, deadline: float, on_request: RequestHandler, on_log: LogHandler
    ) -> CallResult:
        while True:
            message = self._receive(conn, deadline)
            tag = message[0]
            if tag == "log":
                on_log(message[1], message[2])
            elif tag == "request":
                conn.send(_answer(on_request, message[1], tuple(message[2:])))
            elif tag == "done":
                return CallResult(message[1], message[2])
            elif tag == "raised":
                _, name, text, trace = message
                raise PluginFailure("raised", f"{name}: {text}\n{trace}".rstrip())
            else:
                raise PluginFailure("crashed", f"unexpected message from worker: {tag!r}")

    def _reap(self) -> int | None:
        process = self._process
        self.kill()
        return None if process is None else process.returncode

    def kill(self) -> None:
        """Stop the worker now (it holds no state the server needs)."""
        process, conn = self._process, self._conn
        self._process, self._conn = None, None
        if conn is not None:
            conn.close()
        if process is not None:
            if process.poll() is None:
                process.kill()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                log.warning("plugin worker %s (pid %d) did not exit", self._label, process.pid)


def _answer(on_request: RequestHandler, op: str, payload: tuple[Any, ...]) -> tuple[Any, ...]:
    try:
        return ("reply", on_request(op, payload))
    except RequestRefused as refused:
        return ("fail", refused.kind, refused.message)
    except FlightIoxError as error:  # refused by the engine (permissions, limits)
        return ("fail", "error", error.message)


def _mtime(path: Path) -> float | None:
    target = path / "__init__.py" if path.is_dir() else path
    try:
        return target.stat().st_mtime
    except OSError:
        return None
