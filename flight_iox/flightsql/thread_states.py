"""One Python thread state per gRPC handler thread, kept from one call to the next.

pyarrow runs every Flight handler, middleware and auth callback on gRPC's own threads and
enters Python through ``PyGILState_Ensure``/``PyGILState_Release``. On a thread Python did
not start, the release that brings the count back to zero deletes the thread state, so
each entry builds a new one: a new state, a new frame stack, an empty
``threading.local``. A plain-ADBC query is four RPCs of four to six such entries each
(auth check, middleware start, headers, handler, batches, completion).

``keep_thread_state`` takes one more ``PyGILState_Ensure`` on the calling gRPC thread and
never releases it, so the state lives as long as the thread: later entries reuse it, and
the per-thread caches the engine keeps (``threading.local``) last longer than one call.
``bench/query_overhead.py``, run in this tree and in one without it, measures the gain
(docs/benchmarks.md).

What keeps it safe:

- **Bounded.** At most ``MAX_KEPT`` states are kept at once. gRPC ends handler threads it
  no longer needs (after a burst of concurrent calls); a kept state of an ended thread is
  cleared and deleted (``_forget_ended``, at most once per ``REAP_SECONDS``) with the
  interpreter's lock held, as CPython allows for a state that is not current. Until then
  (reaping happens when a new gRPC thread makes its first call) an ended thread's state
  keeps its thread-locals: caches, bounded by ``MAX_KEPT``.
- **Nothing crosses calls but caches.** The principal, database and session of a call live
  on its middleware, never in a thread-local or a context variable; the engine's context
  variables are set and reset inside a call (``query/execution.py``'s ``cancellation``).
- **Only where this was read in CPython's source: 3.11 on Linux.** Deleting another
  thread's state is safe in 3.11 (``tstate_delete_common`` unbinds only a state that is
  the caller's own); 3.12 clears the caller's binding instead, so nothing is kept there.
  Whether a thread ended is read from ``/proc/self/task``, used only when it lists the
  importing thread under its native id.
- **gRPC threads only.** A thread Python started deletes its state when it ends, whatever
  the count, so its state is never kept (it would be deleted twice). A forked child
  forgets what its parent kept (CPython deleted those states in the child).
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

MAX_KEPT = 64
REAP_SECONDS = 5.0
_TASKS = Path("/proc/self/task")

_api = ctypes.pythonapi
_api.PyGILState_Ensure.restype = ctypes.c_int
_api.PyThreadState_Get.restype = ctypes.c_void_p
_api.PyThreadState_Clear.argtypes = (ctypes.c_void_p,)
_api.PyThreadState_Delete.argtypes = (ctypes.c_void_p,)

_local = threading.local()
_lock = threading.Lock()
_kept: dict[int, int] = {}  # thread state address -> native id of its thread
_last_reap = [0.0]


def _supported() -> bool:
    """CPython 3.11, and a ``/proc/self/task`` that numbers threads as ``get_native_id``
    does (not so under a ``/proc`` of another PID namespace: there every kept thread would
    look ended, and its state be freed while in use)."""
    if sys.implementation.name != "cpython" or sys.version_info[:2] != (3, 11):
        return False
    return (_TASKS / str(threading.get_native_id())).is_dir()


_SUPPORTED = _supported()
# A forked child keeps only the forking thread: CPython deleted the other states.
os.register_at_fork(after_in_child=_kept.clear)


def keep_thread_state() -> None:
    """Keep the calling gRPC thread's Python state for its next calls (once per thread).

    Call it from pyarrow's server callbacks only; a thread ``threading`` started is left
    alone (Python deletes its state when it ends, whatever the count: it would go twice).
    """
    if getattr(_local, "kept", False) or not _SUPPORTED:
        return
    with _lock:
        now = time.monotonic()
        if now - _last_reap[0] >= REAP_SECONDS:  # not at every call, even at the bound
            _last_reap[0] = now
            _forget_ended()
        if len(_kept) >= MAX_KEPT or _started_by_python():
            return
        _api.PyGILState_Ensure()  # never released: the count stays above zero
        _kept[_api.PyThreadState_Get()] = threading.get_native_id()
    _local.kept = True


def _started_by_python() -> bool:
    """Whether ``threading`` started the calling thread (asked without making it a dummy)."""
    ident = threading.get_ident()
    return any(
        thread.ident == ident and not isinstance(thread, threading._DummyThread)
        for thread in threading.enumerate()
    )


def kept_threads() -> set[int]:
    """The native ids of the threads whose states are kept now."""
    with _lock:
        return set(_kept.values())


def forget_ended() -> None:
    """Delete the kept states of threads that have ended now, not at the next keep."""
    with _lock:
        _forget_ended()


def _forget_ended() -> None:
    """Delete the kept states of threads that have ended (under ``_lock``, GIL held)."""
    alive = {int(name) for name in _list_tasks()}
    for address, native_id in list(_kept.items()):
        if native_id in alive:
            continue
        del _kept[address]
        _api.PyThreadState_Clear(address)  # its thread-locals go: finalizers run here
        _api.PyThreadState_Delete(address)


def _list_tasks() -> list[str]:
    try:
        return [entry.name for entry in _TASKS.iterdir()]
    except OSError:  # pragma: no cover - /proc vanished: keep everything, reap later
        log.warning("cannot list %s; kept thread states are not reaped", _TASKS)
        return [str(native_id) for native_id in _kept.values()]
