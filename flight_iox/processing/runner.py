"""One enabled trigger at work: its worker processes, and the thread that feeds them.

- ``table:``/``all_tables``: a thread reads the acknowledged-write stream from the
  trigger's durable position (``ports.WalFeed``), calls ``process_writes`` with the
  rows of its database's tables, then records the new position. Calls are one at a
  time and in sequence order, whatever ``run_async`` says.
- ``every:``/``cron:``: a thread sleeps until the next fire time and calls
  ``process_scheduled_call``; with ``run_async`` a call may start while an earlier one
  runs (on another worker); without it a fire time that passes during a call is skipped.
- ``request:``: no thread; ``request`` runs on the caller's thread.

A failed call (raised, timed out, worker died) is logged to
``system.processing_engine_logs`` and then handled per ``error_behavior``: ``log``
moves on, ``retry`` calls again with backoff (a write batch is never skipped), and
``disable`` disables the trigger (its batch is delivered again once it is enabled).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from flight_iox.errors import RetryLaterError
from flight_iox.ports import AcknowledgedWrite, WalFeed
from flight_iox.processing.host import PluginHost, python_rows
from flight_iox.processing.process import CallResult, PluginFailure, PluginProcess
from flight_iox.processing.schedule import next_fire
from flight_iox.processing.store import TriggerStore
from flight_iox.processing.triggers import TriggerConfig

log = logging.getLogger(__name__)

ASYNC_WORKERS = 4
REQUEST_ATTEMPTS = 3
MAX_BACKOFF_S = 30.0
MAX_ENTRIES_PER_CALL = 1000


@dataclass(frozen=True)
class RunnerParts:
    """What every runner shares, given by the ``ProcessingEngine``."""

    feed: WalFeed
    store: TriggerStore
    call_timeout: float
    memory_limit: int
    request_wait: float  # a request waits this long for a busy trigger's worker, then 503
    table_columns: Callable[[str, str], list[str] | None]  # a table's columns, in order


class TriggerRunner:
    """Runs one trigger's plugin until ``stop``."""

    def __init__(
        self,
        config: TriggerConfig,
        plugin_path: Path,
        parts: RunnerParts,
        host: Callable[[], PluginHost],
        log_line: Callable[[str, str], None],
        disable: Callable[[], None],
    ) -> None:
        self.config = config
        self._spec = config.spec
        self._parts = parts
        self._host = host
        self._log = log_line
        self._disable = disable
        self._stop = threading.Event()
        size = ASYNC_WORKERS if config.run_async and not self._spec.on_writes else 1
        label = f"{config.database}/{config.name}"
        self._workers: list[PluginProcess] = [
            PluginProcess(plugin_path, parts.memory_limit, label) for _ in range(size)
        ]
        self._free: queue.Queue[PluginProcess] = queue.Queue()
        for worker in self._workers:
            self._free.put(worker)
        self._thread: threading.Thread | None = None
        self._reader = f"trigger:{label}"

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the feeding thread (write and scheduled triggers)."""
        if self._spec.on_writes:
            target: Callable[[], None] = self._feed_writes
            store, config = self._parts.store, self.config
            position = store.position(config.database, config.name)
            if position is None:
                position = self._parts.feed.acknowledged
                store.set_position(config.database, config.name, position)
            self._parts.feed.hold(self._reader, position)
        elif self._spec.kind in ("every", "cron"):
            target = self._schedule
        else:
            return
        self._thread = threading.Thread(target=target, name=f"trigger-{self.config.name}")
        self._thread.daemon = True
        self._thread.start()

    def stop(self, release: bool = False) -> None:
        """Stop feeding and kill the workers; ``release`` drops the WAL hold (deleted)."""
        self._stop.set()
        self._parts.feed.wake()  # the feeding thread sees the stop now, not after its wait
        for worker in self._workers:
            worker.kill()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        if release:
            self._parts.feed.release(self._reader)

    # --- calls -----------------------------------------------------------------------------

    def _invoke(
        self, entry: str, arguments: dict[str, Any], wait: float | None = None
    ) -> CallResult:
        try:
            worker = self._free.get(timeout=wait)
        except queue.Empty:
            raise RetryLaterError(
                f"trigger {self.config.name!r} is busy with earlier requests; retry later"
            ) from None
        try:
            host = self._host()
            result = worker.call(
                entry,
                {**arguments, "args": self.config.arguments},
                timeout=self._parts.call_timeout,
                on_request=host,
                on_log=self._log,
            )
        except PluginFailure:
            raise
        except Exception as error:  # a bug of ours answering the plugin: keep the trigger alive
            log.exception("trigger %s: serving %s failed", self.config.name, entry)
            raise PluginFailure("internal", f"server error: {type(error).__name__}") from error
        finally:
            self._free.put(worker)
        by_database: dict[str | None, list[str]] = {}
        for database, line in result.queued_writes:
            by_database.setdefault(database, []).append(line)
        for database, lines in by_database.items():
            host.write_lines(database, lines)
        return result

    def _call(
        self,
        entry: str,
        arguments: dict[str, Any],
        attempts: int | None = None,
        wait: float | None = None,
    ) -> Any:
        """Call per ``error_behavior``; the result, or ``PluginFailure`` once it gives up.

        ``wait`` bounds the wait for a free worker (requests: ``RetryLaterError`` past it).
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._invoke(entry, arguments, wait).value
            except PluginFailure as failure:
                if self._stop.is_set():
                    raise
                self._log("ERROR", f"{entry} failed ({failure.reason}): {failure.message}")
                behavior = self.config.error_behavior
                if behavior == "disable":
                    self._log("WARN", "trigger disabled after an error (error_behavior=disable)")
                    self._disable()
                if behavior != "retry" or (attempts is not None and attempt >= attempts):
                    raise
                if self._stop.wait(min(MAX_BACKOFF_S, 0.25 * 2**attempt)):
                    raise

    # --- write triggers --------------------------------------------------------------------

    def _feed_writes(self) -> None:
        config, feed, store = self.config, self._parts.feed, self._parts.store
        position = store.position(config.database, config.name) or 0
        while not self._stop.is_set():
            if feed.wait(position, timeout=1.0, stopped=self._stop) <= position:
                continue
            read = feed.read(position, config.database, limit=MAX_ENTRIES_PER_CALL)
            if read.missing:
                self._log(
                    "WARN",
                    f"{read.missing} WAL entries were deleted before this trigger read them "
                    "(--wal-hold-max-bytes); their rows are in the table, not delivered here",
                )
            batches = self._table_batches(list(read.entries))
            if batches:
                if store.find(config.database, config.name) is None:
                    return  # deleted, or its database was: stop before the plugin writes
                try:
                    self._call("process_writes", {"table_batches": batches})
                except PluginFailure:
                    if self._stop.is_set():
                        return  # not taken: delivered again when the trigger runs next
            position = read.through
            store.set_position(config.database, config.name, position)
            feed.hold(self._reader, position)

    def _table_batches(self, entries: list[AcknowledgedWrite]) -> list[dict[str, Any]]:
        """The entries' rows of the trigger's tables, one batch per table, as InfluxDB 3 gives."""
        spec, database = self._spec, self.config.database
        pieces: dict[str, list[pa.RecordBatch]] = {}
        for entry in entries:
            for table, batch in entry.tables:
                if spec.kind == "all_tables" or table == spec.value:
                    pieces.setdefault(table, []).append(batch)
        batches = []
        for table, parts in pieces.items():
            rows: list[dict[str, Any]] = []
            for batch in parts:
                rows.extend(python_rows(pa.Table.from_batches([batch])))
            columns = self._parts.table_columns(database, table)
            if columns:  # every column of the table, None where a row has no value
                rows = [{c: row.get(c) for c in columns} for row in rows]
            batches.append({"table_name": table, "rows": rows})
        return batches

    # --- scheduled triggers ----------------------------------------------------------------

    def _schedule(self) -> None:
        fire = next_fire(self._spec, time.time())
        while not self._stop.wait(max(0.0, fire - time.time())):
            if self.config.run_async:
                threading.Thread(target=self._scheduled_call, args=(fire,), daemon=True).start()
            else:
                self._scheduled_call(fire)
            fire = next_fire(self._spec, max(time.time(), fire))

    def _scheduled_call(self, call_time: float) -> None:
        if self._parts.store.find(self.config.database, self.config.name) is None:
            self._stop.set()  # deleted with its database: no more calls
            return
        with contextlib.suppress(PluginFailure):  # logged; the next fire time comes as usual
            self._call("process_scheduled_call", {"call_time": call_time})

    # --- request triggers ------------------------------------------------------------------

    def request(
        self, query_parameters: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[str, int, dict[str, str]]:
        """Call ``process_request`` (``PluginFailure`` when it did not answer)."""
        arguments = {
            "query_parameters": query_parameters,
            "request_headers": headers,
            "request_body": body,
        }
        response: tuple[str, int, dict[str, str]] = self._call(
            "process_request", arguments, attempts=REQUEST_ATTEMPTS, wait=self._parts.request_wait
        )
        return response
