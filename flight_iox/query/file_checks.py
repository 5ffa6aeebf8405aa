"""Checking a data file before anything reads it: is it there, whole, and Parquet?

A table's files are listed by the catalog, but the object store may have lost one (an
operator's ``rm``, a bucket lifecycle rule, a bad disk) or hold a truncated copy. Neither
reader copes on its own: DataFusion infers nothing from a missing file and panics on some
corrupt footers, and a zero-byte file reads as an empty table. So every file is checked
once, with pyarrow, before DataFusion sees it: its size against the catalog's record, then
its footer. The same check finds the files ``flight-iox repair`` removes.

A file lost after its table was registered would read as empty, so the persister also
compares each table's files with a listing of their folder now and then
(``listed_problems``: one listing per table, no file is opened).
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from iox_catalog.files import DataFile
from iox_catalog.storage import Storage


class UnreadableFileError(Exception):
    """A data file that is missing, not the size the catalog recorded, or not Parquet.

    Internal: the query layer turns it into ``DataFileUnavailableError`` for the client.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def checked_schema(file: DataFile, storage: Storage) -> pa.Schema:
    """The Arrow schema in ``file``'s footer, once the file is found whole.

    Raises ``UnreadableFileError`` saying what is wrong (not found, wrong size, bad footer).
    One open (a HEAD on S3) and one footer read.
    """
    try:
        with storage.filesystem.open_input_file(storage.path(file.path)) as handle:
            size = handle.size()
            if file.size_bytes and size != file.size_bytes:
                raise UnreadableFileError(
                    file.path, f"it has {size} bytes, the catalog recorded {file.size_bytes}"
                )
            return pq.read_schema(handle)
    except FileNotFoundError:
        raise UnreadableFileError(file.path, "not found") from None
    except (OSError, pa.ArrowException) as error:  # pyarrow's I/O and Parquet errors
        raise UnreadableFileError(file.path, _short(error)) from None


def file_problem(file: DataFile, storage: Storage) -> str | None:
    """Why ``file`` cannot be read, or None when it can."""
    try:
        checked_schema(file, storage)
    except UnreadableFileError as error:
        return error.reason
    return None


def listed_problems(files: Sequence[DataFile], storage: Storage) -> dict[str, str]:
    """The files of one table missing from a listing of their folders, or of another size.

    One recursive listing of the folder holding them all (a few LIST calls on S3); no file
    is opened, so a damaged footer is not seen here (``checked_schema`` sees it).
    """
    if not files:
        return {}
    paths = {file.path: storage.path(file.path) for file in files}
    root = posixpath.commonpath([posixpath.dirname(p) for p in paths.values()])
    selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
    sizes = {
        info.path: info.size
        for info in storage.filesystem.get_file_info(selector)
        if info.type == pafs.FileType.File
    }
    problems = {}
    for file in files:
        size = sizes.get(paths[file.path])
        if size is None:
            problems[file.path] = "not found"
        elif file.size_bytes and size != file.size_bytes:
            problems[file.path] = f"it has {size} bytes, the catalog recorded {file.size_bytes}"
    return problems


def _short(error: BaseException) -> str:
    """The first line of an error, which is all a client needs (no library internals)."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
