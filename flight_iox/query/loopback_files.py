"""Local data files served to DataFusion as an S3 bucket on loopback, to bound memory.

Why (issue 20): DataFusion reads a local Parquet file through object_store's local file
system, which reads every byte range on one of tokio's *blocking* threads, into a buffer
that thread allocates; the query's worker threads decode it and free it. The ``datafusion``
wheel's allocator is mimalloc 2.3.2 (statically linked; pyarrow's own is 3.x). There a
buffer over 128 KiB always gets a fresh page of the allocating thread's heap, and a block
freed by another thread is only queued to its owner, which takes it back when it next
allocates through the slow path a hundred times (a hard-coded count) or when the thread
exits (tokio keeps an idle blocking thread 10 s). Blocking threads allocate little else, so
each holds the buffers of its last reads: RSS grew by about the bytes every query read,
O(rows), and fell back only after 10 s without queries (docs/benchmarks.md). No mimalloc
option changes either path (``MIMALLOC_GENERIC_COLLECT``, ``PURGE_DELAY``,
``TARGET_SEGMENTS_PER_THREAD`` measured: no change).

The same files read through object_store's S3 client leave nothing: its responses are read
and freed on tokio's workers, whose heaps reuse them. So the server reads its local files
that way: this serves ``GET`` (with ``Range``) and ``HEAD`` of the files under the warehouse
folder on ``127.0.0.1`` and a free port, answering only requests signed with a random access
key made at start (held in this process; a plan's file URLs name the bucket, not the key).
The bytes go out with ``sendfile``, so Python never holds them. DataFusion's own Parquet
reader, its pruning and its pushdown are unchanged (the HTTP side: ``loopback_http.py``).

Files it cannot serve are read directly, as before: files outside the warehouse folder
(legacy tables keep theirs, ``iox_catalog/locations.py``) and paths with control characters
(object_store refuses them). A file gone at query time fails the query with the same
``DataFileUnavailableError`` a file found missing when its table is registered does: the
404 carries it. The process environment must not redirect the client: ``127.0.0.1`` is
added to ``NO_PROXY`` (reqwest sends loopback through ``HTTP_PROXY``/``ALL_PROXY``
otherwise), and the S3 client also reads ``AWS_*`` variables with no explicit override in
datafusion-python's ``AmazonS3`` (``AWS_SKIP_SIGNATURE``, ...): with one of those set, or
one it cannot parse (``AWS_CONNECT_TIMEOUT=5``, without a unit, panics in Rust), the server
reads its files directly and logs why (``start``). Any other failure of a read through the
endpoint reaches the user as ``DataFileReadError`` (the file, "retry"), never the endpoint's
address; the log has DataFusion's full text.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import unicodedata
from collections.abc import MutableMapping
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from flight_iox.errors import DataFileUnavailableError
from flight_iox.query.engine_errors import is_engine_error
from flight_iox.query.loopback_http import LoopbackServer, requested_range
from iox_catalog.object_store import DataFusionStore
from iox_catalog.storage import uri_path
from iox_datamodel.file_errors import LOOPBACK_PORTS

__all__ = ["BUCKET", "FileUrls", "LoopbackFiles", "requested_range", "start"]

log = logging.getLogger(__name__)

BUCKET = "flight-iox-local-files"  # what file URLs (and plans) show: s3://BUCKET/abs/path
_REGION = "us-east-1"
# Connections served at once (more wait to be accepted), and how long one may stay silent:
# the S3 client keeps idle connections pooled and reconnects when one was closed.
# A connection is a thread, mostly asleep; 16 queries' partitions each read at once.
MAX_CONNECTIONS, IDLE_TIMEOUT = 256, 30.0
# ``AWS_*`` variables object_store's S3 client reads from the environment that would send
# its requests elsewhere or unsigned, and that ``AmazonS3`` cannot override: unset, false.
_BLOCKING = (
    "AWS_SKIP_SIGNATURE",  # unsigned: refused (403)
    "AWS_VIRTUAL_HOSTED_STYLE_REQUEST",  # the bucket as a host name: not found
    "AWS_S3_EXPRESS",  # a session handshake first
    "AWS_PROXY_URL",  # through a proxy, key included
    "AWS_HTTP2_ONLY",  # this endpoint speaks HTTP/1.1
)
_FALSE = ("", "false", "0", "no", "off", "n")
_LOOPBACK = "127.0.0.1"


class FileUrls(Protocol):
    """Where DataFusion reads a table's data file (``LoopbackFiles``; ``TableBuilder`` asks)."""

    def url(self, path: str, table: str) -> str:
        """The URL of the file at ``path`` (of ``table``, named in errors)."""
        ...

    def keep_only(self, paths: set[str]) -> None:
        """Forget files other than ``paths``."""
        ...


def query_store(
    configured: DataFusionStore | None, enabled: bool, root: Path
) -> tuple[DataFusionStore | None, LoopbackFiles | None]:
    """What DataFusion reads data files through, and the endpoint if one started: the
    configured store (S3); else, when ``enabled`` and the environment allows, this module's
    endpoint over the local warehouse ``root``; else none (object_store's local reads)."""
    if configured is not None or not enabled:
        return configured, None
    loopback = start(root)
    return (loopback.store() if loopback is not None else None), loopback


def start(root: Path, env: MutableMapping[str, str] = os.environ) -> LoopbackFiles | None:
    """The endpoint for the files under ``root``, or None (with a warning saying why) when
    the environment would break it; ``127.0.0.1`` is added to ``env``'s ``NO_PROXY`` (the
    process's: the S3 client reads ``os.environ`` when it is built)."""
    blocking = [name for name in _BLOCKING if env.get(name, "").strip().lower() not in _FALSE]
    if blocking:
        log.warning(
            "%s is set in the environment and would break the S3 client reading local data "
            "files through loopback; reading them directly instead (their read buffers stay "
            "resident: see --no-loopback-file-reads in docs/configuration.md)",
            ", ".join(blocking),
        )
        return None
    bypass_proxy(env)
    files = LoopbackFiles(root)
    try:
        files.store()  # the S3 client reads AWS_* variables here, and may panic on one
    except BaseException as error:  # a Rust panic (``PanicException``) is not an Exception
        files.close()
        if is_engine_error(error) or _is_panic(error):  # the client refuses the environment
            log.warning(
                "the S3 client cannot be built to read local data files through loopback "
                "(%s; check the AWS_* variables in the environment); reading them directly "
                "instead (their read buffers stay resident: see --no-loopback-file-reads in "
                "docs/configuration.md)",
                str(error).strip() or type(error).__name__,
            )
            return None
        raise  # KeyboardInterrupt, or a bug of ours
    return files


def _is_panic(error: BaseException) -> bool:
    """Whether ``error`` is pyo3's ``PanicException`` (its module is not importable)."""
    return type(error).__module__ == "pyo3_runtime" and type(error).__name__ == "PanicException"


def bypass_proxy(env: MutableMapping[str, str]) -> None:
    """Add ``127.0.0.1`` to ``NO_PROXY`` (or ``no_proxy``, whichever is set; both if
    neither), which reqwest reads when it builds a client, before ``HTTP_PROXY``."""
    names = [name for name in ("NO_PROXY", "no_proxy") if name in env] or ["NO_PROXY", "no_proxy"]
    for name in names:
        hosts = [host.strip() for host in env.get(name, "").split(",") if host.strip()]
        if _LOOPBACK not in hosts and "*" not in hosts:
            env[name] = ",".join([*hosts, _LOOPBACK])


class LoopbackFiles:
    """A read-only S3 endpoint for the files under ``root``; ``close`` stops it."""

    bucket = BUCKET

    def __init__(
        self,
        root: Path,
        max_connections: int = MAX_CONNECTIONS,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        self.root = Path(os.path.realpath(root))
        self._key = secrets.token_hex(16)
        # Served path -> (the catalog's path, its table), for the error of a file gone.
        self._tables: dict[str, tuple[str, str]] = {}
        # Served path -> the file it resolved to when a table registered it (``url``).
        self._resolved: dict[str, Path] = {}
        self._lock = threading.Lock()
        self._store: DataFusionStore | None = None  # built once (it reads the environment)
        self._server = LoopbackServer(self, max_connections, idle_timeout)
        # Started by the first ``url`` it serves: most apps (a test's, a server's first
        # minutes) read no file, and a started one takes up to its 0.1 s poll to close.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.1,), name="loopback-files", daemon=True
        )
        LOOPBACK_PORTS.add(self._server.server_address[1])  # its failures: DataFileReadError

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{_LOOPBACK}:{self._server.server_address[1]}"

    @property
    def serving(self) -> bool:
        """Whether it has started answering (at the first file it serves; ``serve``)."""
        return self._thread.ident is not None

    @property
    def peak_connections(self) -> int:
        """The most connections served at once so far."""
        return self._server.peak

    def store(self) -> DataFusionStore:
        """``register_object_store`` arguments for the bucket (every query context needs it)."""
        from datafusion.object_store import AmazonS3  # the query layer's client

        if self._store is not None:
            return self._store
        store = AmazonS3(
            bucket_name=BUCKET,
            region=_REGION,
            access_key_id=self._key,
            secret_access_key=self._key,
            endpoint=self.endpoint,
            allow_http=True,
        )
        self._store = DataFusionStore("s3://", store, BUCKET)
        return self._store

    def url(self, path: str, table: str = "?") -> str:
        """The URL DataFusion reads the local file ``path`` (or ``file://`` URI) of ``table``
        at: through this endpoint if it serves it, else ``path`` itself (read directly)."""
        local = os.path.abspath(uri_path(path))
        resolved = self._servable(local)
        if resolved is None:
            return path
        with self._lock:
            self._tables[local.lstrip("/")] = (path, table)
            if resolved.is_file():
                self._resolved[local.lstrip("/")] = resolved
        self.serve()
        return f"s3://{BUCKET}{quote(local)}"

    def serve(self) -> LoopbackFiles:
        """Start answering (once; the port listens already, so a read waits for it)."""
        with self._lock:
            if not self.serving and not self._server.closed:
                self._thread.start()
        return self

    def keep_only(self, paths: set[str]) -> None:
        """Forget the tables of files other than ``paths`` (no longer in any table)."""
        kept = {os.path.abspath(uri_path(path)).lstrip("/") for path in paths}
        with self._lock:
            self._tables = {key: held for key, held in self._tables.items() if key in kept}
            self._resolved = {key: real for key, real in self._resolved.items() if key in kept}

    def served_path(self, key: str) -> Path | None:
        """The file a request's (unquoted) object key names, if under ``root``.

        A file a table registered was resolved then (``url``): data files never change, so
        its requests skip ``realpath``, which stats every folder on the way (a third of a
        full-day TSBS query's time without the Parquet cache: ~56 requests a query, each
        ~12 stats; docs/benchmarks.md). A file removed since fails at ``open``: the same
        404. The trap: a folder of the warehouse replaced by a symlink after registration
        is followed; whoever can do that can rewrite the data files themselves.
        """
        resolved = self._resolved.get(key)
        if resolved is not None:
            return resolved
        path = Path(os.path.realpath("/" + key))
        return path if path.is_relative_to(self.root) and path.is_file() else None

    def missing(self, key: str) -> bytes:
        """What a 404 for ``key`` (or a listing of ``key/``) says: the file's
        ``DataFileUnavailableError``, carried through DataFusion's message."""
        path, table = self._tables.get(key.rstrip("/"), ("/" + key.rstrip("/"), "?"))
        error = DataFileUnavailableError(path, table, "not found")
        return f"{error.message} {error.carried()}".encode()

    def authorized(self, header: str | None) -> bool:
        """Whether a SigV4 ``Authorization`` header carries this server's access key."""
        return header is not None and f"Credential={self._key}/" in header

    def close(self) -> None:
        """Stop serving: no request is answered after this, on any connection."""
        with self._lock:
            started = self.serving
            self._server.closed = True  # and never started after this
        if started:
            self._server.stop()
            self._thread.join(timeout=10)
        else:  # never served: nothing to shut down but the listening socket
            self._server.server_close()
        LOOPBACK_PORTS.discard(self._server.server_address[1])

    def _servable(self, local: str) -> Path | None:
        """The file ``local`` resolves to (symlinks followed) if under ``root`` and a path
        object_store accepts, else None."""
        if any(unicodedata.category(c) == "Cc" for c in local):
            return None  # object_store's paths refuse control characters
        resolved = Path(os.path.realpath(local))
        return resolved if resolved.is_relative_to(self.root) else None
