"""The plugin worker process: loads one plugin file and runs its entry point on request.

Started by the server (``process.py``) as ``python -m flight_iox.processing.worker FD
MEMORY PATH PARENT``: ``FD`` is its end of a socket pair, ``MEMORY`` its address-space
limit in bytes (0: none), set with ``resource.setrlimit`` before any plugin code runs. The
plugin's prints go to the worker's own stdout and stderr, never into the pipe.

Messages are pickled tuples (``multiprocessing.connection``):

- server → worker: ``("call", entry_point, arguments)``; answers to the worker's
  requests: ``("reply", value)`` or ``("fail", kind, message)``.
- worker → server: ``("ready",)`` or ``("broken", traceback)`` once the plugin is
  loaded; ``("log", level, text)``; ``("request", op, ...)``; and, for each call,
  ``("done", result, queued_writes)`` or ``("raised", type_name, message, traceback)``.
"""

from __future__ import annotations

import builtins
import ctypes
import ctypes.util
import importlib.util
import json
import os
import resource
import signal
import sys
import traceback
from collections.abc import Callable, Iterable
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType
from typing import Any

from flight_iox.processing.line_builder import PLUGIN_BUILTINS
from flight_iox.processing.plugin_api import Channel, InfluxDB3Local

UNSUPPORTED_RETURN = "Unsupported return type from Python function"


def load_plugin(path: Path) -> ModuleType:
    """Import a plugin file (or a plugin folder's ``__init__.py``) as a fresh module."""
    if path.is_dir():
        path = path / "__init__.py"
    sys.path.insert(0, str(path.parent))  # a plugin may import its neighbours
    spec = importlib.util.spec_from_file_location(f"plugin_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load plugin {path}")
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(PLUGIN_BUILTINS)
    spec.loader.exec_module(module)
    return module


def response_of(result: object) -> tuple[str, int, dict[str, str]]:
    """A ``process_request`` return value as (body, status, headers), as InfluxDB 3 reads it."""
    if getattr(result, "__flask_response__", None) is not None:
        response: Any = result
        return str(response.get_data()), int(response.status_code), dict(response.headers)
    status, headers = 200, {}
    if isinstance(result, tuple) and 1 <= len(result) <= 3:
        body, *rest = result
        if len(rest) == 2:
            status, headers = int(rest[0]), dict(rest[1])
        elif rest and isinstance(rest[0], dict):
            headers = dict(rest[0])
        elif rest:
            status = int(rest[0])
        result = body
    if isinstance(result, dict | list):
        return json.dumps(result), status, {"content-type": "application/json", **headers}
    if isinstance(result, str):
        return result, status, {"content-type": "text/html", **headers}
    if isinstance(result, Iterable) and not isinstance(result, bytes | bytearray):
        return "".join(str(p) for p in result), status, {"content-type": "text/html", **headers}
    raise TypeError(UNSUPPORTED_RETURN)


def _call(module: ModuleType, local: InfluxDB3Local, entry: str, arguments: dict[str, Any]) -> Any:
    function: Callable[..., Any] = getattr(module, entry)
    trigger_args = arguments.get("args")
    if entry == "process_writes":
        return function(local, arguments["table_batches"], trigger_args)
    if entry == "process_scheduled_call":
        call_time = datetime.fromtimestamp(arguments["call_time"])
        return function(local, call_time, trigger_args)
    result = function(
        local,
        arguments["query_parameters"],
        arguments["request_headers"],
        arguments["request_body"],
        trigger_args,
    )
    return response_of(result)


def serve(conn: Connection, path: Path) -> None:
    """Load the plugin, then answer calls until the server closes the pipe."""
    channel = Channel(conn)
    try:
        module = load_plugin(path)
    except BaseException:  # the plugin's import may fail in any way: report it
        conn.send(("broken", traceback.format_exc(limit=-8)))
        return
    conn.send(("ready",))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        _, entry, arguments = message
        local = InfluxDB3Local(channel)
        try:
            if not hasattr(module, entry):
                raise AttributeError(f"plugin {path.name} defines no {entry}()")
            result = _call(module, local, entry, arguments)
        except Exception as error:  # the plugin's own failure, reported per error_behavior
            trace = traceback.format_exc(limit=-8)
            conn.send(("raised", type(error).__name__, str(error), trace))
            continue
        conn.send(("done", result, local.queued_writes()))


def _die_with(parent: int) -> None:
    """Ask Linux to SIGKILL this worker when the server dies (even by ``kill -9``).

    Without it a plugin looping forever would outlive its server. Elsewhere the worker
    still ends when its pipe closes, at its next message.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the server died before the request took effect
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    """Entry point: ``FD MEMORY PATH PARENT_PID``."""
    fd, memory, path, parent = int(argv[1]), int(argv[2]), Path(argv[3]), int(argv[4])
    if sys.platform == "linux":
        _die_with(parent)
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    builtins.__dict__.update(PLUGIN_BUILTINS)  # InfluxDB 3 installs LineBuilder as a builtin
    serve(Connection(fd), path)


if __name__ == "__main__":
    main(sys.argv)
