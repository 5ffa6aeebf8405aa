"""Errors of data files and storage, and the error for a query the engine refused.

Split from ``errors.py`` (the hierarchy and its statuses are described there): these carry
paths and engine text, so they parse and format more than the others.
"""

from __future__ import annotations

import base64
import errno
import json
import logging
import re
from urllib.parse import unquote

from iox_datamodel.errors import FlightIoxError, QueryError

__all__ = [
    "DataFileReadError",
    "DataFileUnavailableError",
    "InsufficientStorageError",
    "carried_error",
    "query_error",
    "storage_full",
]


class InsufficientStorageError(FlightIoxError):
    """A disk (or quota) is full: nothing was stored; free space and retry.

    HTTP says 507 Insufficient Storage. gRPC's RESOURCE_EXHAUSTED is the status named
    for "the entire file system is out of space"; pyarrow's Flight server cannot send
    it from Python, so Flight clients see UNKNOWN with this message (``flightsql/status.py``).
    """

    def __init__(self, path: str, reason: str, what: str = "the write was not stored") -> None:
        super().__init__(f"insufficient storage at {path}: {reason}; {what}; free space and retry")
        self.path = path


# errno values that mean "no room": a full disk, a full quota, a file over RLIMIT_FSIZE.
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def storage_full(error: BaseException, path: str, what: str = "the write was not stored"
                 ) -> InsufficientStorageError | None:  # fmt: skip
    """``InsufficientStorageError`` if ``error`` (or what caused it) says no space was left.

    pyarrow keeps the errno on the ``OSError`` it raises, so its Parquet writes are
    recognised like ``os.write``; SQLite says "database or disk is full" without one.
    """
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _NO_SPACE:
            return InsufficientStorageError(path, seen.strerror or str(seen), what)
        if "database or disk is full" in str(seen):
            return InsufficientStorageError(path, "database or disk is full", what)
        seen = seen.__cause__ or seen.__context__
    return None


class DataFileUnavailableError(FlightIoxError):
    """A data file a query needs is missing or unreadable: its rows cannot be read.

    The request is fine and retrying will not help: the server's storage lost the
    file, so it is a 5xx. The body names the file and the table and says what to do
    (``flight-iox repair`` removes lost files from their table, keeping the rest).
    The error is raised inside DataFusion while it executes, so it travels back as
    text: ``carried`` encodes it and ``query_error`` finds it again.
    """

    def __init__(self, path: str, table: str, reason: str) -> None:
        database = table.split(".", 1)[0]
        super().__init__(
            f"data file {path} of table {table} cannot be read ({reason}): its rows are "
            f"unavailable. Restore the file, or run `flight-iox repair --db {database}` "
            "to remove lost files from the table (their rows are lost; the rest stays)"
        )
        self.path = path
        self.table = table
        self.reason = reason

    def as_json(self) -> dict[str, object]:
        """The message plus the file, the table and the repair command, for scripts."""
        database = self.table.split(".", 1)[0]
        return {
            "error": self.message,
            "file": self.path,
            "table": self.table,
            "repair": f"flight-iox repair --db {database}",
        }

    def carried(self) -> str:
        """This error as text that survives DataFusion's error formatting (no quotes)."""
        payload = json.dumps([self.path, self.table, self.reason]).encode()
        return f"[[flight-iox-error:{base64.urlsafe_b64encode(payload).decode()}]]"


_CARRIED = re.compile(r"\[\[flight-iox-error:([A-Za-z0-9_=-]+)\]\]")


def carried_error(text: str) -> DataFileUnavailableError | None:
    """The ``DataFileUnavailableError`` that ``text`` carries (an engine message, a plan)."""
    found = _CARRIED.search(text)
    if found is None:
        return None
    path, table, reason = json.loads(base64.urlsafe_b64decode(found.group(1)))
    return DataFileUnavailableError(path, table, reason)


class DataFileReadError(FlightIoxError):
    """Reading a local data file through the server's loopback endpoint failed (any answer
    but 404, a refused connection, retries exhausted): the server's fault, maybe passing.
    The message names the file, not the endpoint's internal address; the log has the rest."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"reading data file {path} failed inside the server: retry the query; if it "
            "keeps failing, the server log has the details"
        )
        self.path = path


# A URL of ``flight_iox/query/loopback_files.py``'s endpoint, in an object_store message: a
# file's (``/path``) or a listing's (``?list-type=2&prefix=path``).
_LOOPBACK_URL = re.compile(
    r"https?://127\.0\.0\.1:(\d+)/flight-iox-local-files(?:(/[^\s?]*)|\?\S*?prefix=([^\s&]*))"
)
# The ports of the endpoints running in this process (``loopback_files.py`` adds and removes
# them): text that merely looks like such a URL (a user's literal, say) is the user's error.
LOOPBACK_PORTS: set[int] = set()


def query_error(text: str) -> FlightIoxError:
    """The error for a query that failed in the engine with ``text``.

    A ``DataFileUnavailableError`` raised during execution comes back as it was; a read
    through the loopback endpoint that failed otherwise is a ``DataFileReadError`` (logged
    in full); anything else is the query's fault (``QueryError`` with the engine's message).
    """
    carried = carried_error(text)
    if carried is not None:
        return carried
    for loopback in _LOOPBACK_URL.finditer(text):
        if int(loopback.group(1)) in LOOPBACK_PORTS:
            logging.getLogger(__name__).warning("a query's local file read failed: %s", text)
            path = unquote(loopback.group(2) or "/" + loopback.group(3).lstrip("/"))
            return DataFileReadError(path.rstrip(".,;:)'\""))
    return QueryError(text)
