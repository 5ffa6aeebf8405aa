"""Deleting files, only ever the table's own: driven by its snapshots, never by a folder listing.

A data file becomes deletable when our own commits removed it from the table
(compaction, retention, deletes) and the snapshots that still named it are
expired. ``expire`` finds exactly those files (live in an expired snapshot, live
in no kept one) and, in the same Iceberg commit that expires the snapshots, adds
them to the table property ``iox.unreferenced-files`` with the time they became
unreferenced. ``delete_unreferenced`` deletes the ones older than a grace period
(queries planned before the commit may still read them), each only after
``Storage.contained`` proved it lies under the table's own ``data/`` folder in
the warehouse; a path that does not is logged and forgotten, never deleted.

No folder is ever listed: a file the table never named (another table's, a
file of a folder a name once pointed at) cannot be deleted by this table.
Files written but never committed (a crash between write and commit) are left
behind: leaking is safe, guessing is not.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable

from pyiceberg.catalog import Catalog
from pyiceberg.io import FileIO
from pyiceberg.manifest import ManifestContent, ManifestFile
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot
from pyiceberg.table.update.snapshot import ExpireSnapshots

from iox_catalog.locations import write_root
from iox_catalog.manifest_entries import ManifestEntries
from iox_catalog.storage import Storage, is_canonical_location
from iox_datamodel.errors import StoragePathError

log = logging.getLogger(__name__)
PENDING_PROPERTY = "iox.unreferenced-files"


def pending_files(iceberg: Table) -> dict[str, int]:
    """Files our commits removed and expiry unreferenced: ``{uri: unreferenced since (s)}``."""
    raw = iceberg.properties.get(PENDING_PROPERTY)
    return {str(k): int(v) for k, v in json.loads(raw).items()} if raw else {}


def _encode(pending: dict[str, int]) -> str:
    return json.dumps(pending, sort_keys=True, separators=(",", ":"))


class _Manifests:
    """The live data files of each manifest of the snapshots walked, from the catalog's
    ``ManifestEntries``: a manifest is read from storage once per process, not at each walk.

    Expiry after each persist walked every manifest of three snapshots, and a table gains a
    manifest per persist: issue 20's soak traced its CPU growing from 23 to 126 ms per
    persist cycle over 25 minutes (2026-12-06), when each expiry read them all again. The
    catalog's commits have usually read the newest manifest already.
    """

    def __init__(self, io: FileIO, entries: ManifestEntries) -> None:
        self.io = io
        self._entries = entries
        self._live: dict[str, frozenset[str]] = {}

    def live(self, manifest: ManifestFile) -> frozenset[str]:
        """The paths of the data files ``manifest`` lists as live."""
        if manifest.manifest_path not in self._live:
            entries = self._entries.live(manifest, self.io)
            self._live[manifest.manifest_path] = frozenset(e.data_file.file_path for e in entries)
        return self._live[manifest.manifest_path]

    def snapshot_files(self, snapshot: Snapshot) -> set[str]:
        files: set[str] = set()
        for manifest in snapshot.manifests(self.io):
            if manifest.content == ManifestContent.DATA:
                files |= self.live(manifest)
        return files


def _live_in(snapshots: Iterable[Snapshot], manifests: _Manifests) -> set[str]:
    files: set[str] = set()
    for snapshot in snapshots:
        files |= manifests.snapshot_files(snapshot)
    return files


def expire(
    iceberg: Table, keep_last: int, entries: ManifestEntries, now: float | None = None
) -> int:
    """Expire all but the last ``keep_last`` snapshots; returns how many files it unreferenced
    (``entries``: the catalog's manifests read)."""
    snapshots = sorted(iceberg.snapshots(), key=lambda s: s.timestamp_ms)
    if len(snapshots) <= keep_last:
        return 0
    expired, kept = snapshots[:-keep_last], snapshots[-keep_last:]
    manifests = _Manifests(iceberg.io, entries)
    unreferenced = _live_in(expired, manifests) - _live_in(kept, manifests)
    pending = pending_files(iceberg)
    since = int(time.time() if now is None else now)
    for path in unreferenced:
        pending.setdefault(path, since)
    with iceberg.transaction() as tx:
        ExpireSnapshots(tx).by_ids([s.snapshot_id for s in expired]).commit()
        if unreferenced:
            tx.set_properties({PENDING_PROPERTY: _encode(pending)})
    return len(unreferenced)


def delete_unreferenced(
    iceberg: Table,
    storage: Storage,
    min_age_seconds: float,
    entries: ManifestEntries,
    now: float | None = None,
) -> int:
    """Delete pending files unreferenced for ``min_age_seconds``, under the table's own folder."""
    pending = pending_files(iceberg)
    cutoff = (time.time() if now is None else now) - min_age_seconds
    due = sorted(path for path, since in pending.items() if since <= cutoff)
    if not due:
        return 0
    still_live = _live_in(iceberg.snapshots(), _Manifests(iceberg.io, entries))
    own_data = f"{write_root(iceberg)}/data"
    deleted = 0
    for uri in due:
        del pending[uri]
        if uri in still_live:  # added back by a later commit: not ours to delete any more
            continue
        deleted += _delete_contained(uri, own_data, storage, f"table {iceberg.name()}")
    with iceberg.transaction() as tx:
        if pending:
            tx.set_properties({PENDING_PROPERTY: _encode(pending)})
        else:
            tx.remove_properties(PENDING_PROPERTY)
    return deleted


def table_file_uris(iceberg: Table) -> set[str]:
    """Every file the table's metadata names: data, manifests, manifest lists, metadata."""
    io = iceberg.io
    files: set[str] = set(pending_files(iceberg))
    for snapshot in iceberg.snapshots():
        files.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(io):
            files.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(io, discard_deleted=False):
                files.add(entry.data_file.file_path)
    files |= {entry.metadata_file for entry in iceberg.metadata.metadata_log}
    files.add(iceberg.metadata_location)
    return files


def purge_files(name: str, uris: set[str], root: str, storage: Storage) -> int:
    """Delete a dropped table's files that lie under its own folder ``root``; returns how many."""
    return sum(
        _delete_contained(uri, root, storage, f"dropped table {name}") for uri in sorted(uris)
    )


def _delete_contained(uri: str, root: str, storage: Storage, owner: str) -> int:
    """Delete ``uri`` if it lies under ``root`` (1), else leave it and log why (0).

    A file already gone counts as nothing to do; any other failure is logged and left for later.
    """
    try:
        path = storage.contained(uri, within=root)
    except StoragePathError as error:
        log.warning("not deleting a file of %s: %s", owner, error)
        return 0
    try:
        storage.filesystem.delete_file(path)
    except FileNotFoundError:
        return 0
    except OSError:
        log.warning("could not delete %s of %s", path, owner, exc_info=True)
        return 0
    return 1


def purge_table(catalog: Catalog, identifier: tuple[str, ...], storage: Storage) -> None:
    """Drop a table, then delete the files its metadata names under its own folder.

    Not PyIceberg's ``purge_table``: that deletes whatever paths the metadata holds,
    wherever they are. Files outside the table's folder are logged and left.
    """
    iceberg = catalog.load_table(identifier)
    uris = table_file_uris(iceberg)
    roots = {write_root(iceberg), iceberg.location().rstrip("/")}
    catalog.drop_table(identifier)
    for root in sorted(roots):
        if is_canonical_location(root, storage):
            mine = {u for u in uris if u.startswith(root + "/")}
            purge_files(".".join(identifier), mine, root, storage)
            uris -= mine
    for uri in sorted(uris):
        log.warning("not deleting %s of dropped table %s: outside its folder", uri, identifier)
