"""The live entries of Iceberg manifests, read once per manifest and kept (bounded).

A manifest never changes once written: a commit that adds files writes a new manifest
and lists the old ones again, one that removes files writes new manifests in place of
the old. Reading a table's files after each commit used to read every manifest of the
snapshot again (a fast append adds one per commit, so a table with n commits cost n
reads at each), and opening an Avro file costs PyIceberg a schema conversion whatever
its size: most of a persist's CPU on small tables. Entries are kept by manifest path and
the sequence number the manifest list gives it (what the entries inherit), least
recently used first out once more than ``max_entries`` are held.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from pyiceberg.io import FileIO
from pyiceberg.manifest import ManifestEntry, ManifestFile

# About 1-2 kB each (column statistics included): tens of MB at most.
MAX_ENTRIES = 20_000


class ManifestEntries:
    """Live entries by manifest; thread-safe. Callers must not change what they get."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        """``max_entries``: how many entries (over all manifests) to keep at most."""
        self._max = max_entries
        self._held: OrderedDict[tuple[str, int], list[ManifestEntry]] = OrderedDict()
        self._count = 0
        self._lock = threading.Lock()

    def live(self, manifest: ManifestFile, io: FileIO) -> list[ManifestEntry]:
        """The manifest's entries that are not deleted, read only if not held."""
        key = (manifest.manifest_path, manifest.sequence_number)
        with self._lock:
            held = self._held.get(key)
            if held is not None:
                self._held.move_to_end(key)
                return held
        entries = manifest.fetch_manifest_entry(io, discard_deleted=True)
        with self._lock:
            if key not in self._held:
                self._held[key] = entries
                self._count += len(entries)
            while self._count > self._max and self._held:
                _, dropped = self._held.popitem(last=False)
                self._count -= len(dropped)
        return entries
