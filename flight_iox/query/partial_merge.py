"""Settled files' partials merged into one, so a statement combines a few partials, not one
per file.

Issue 20's soak keeps a table growing for 25 minutes: about 120 files of a million rows at
the end. With a kept partial per file, every run of the dashboard's statement still looked
up, concatenated and finally aggregated a partial per file: in process the statement took
11-15 ms over 18 files and 16-26 ms over 108 (docs/benchmarks.md), so the median and the
tail grew with the table.

Files that compaction has settled do not change, and new files arrive at the newest times.
So the files a statement reads alone (no deduplication) are put in a stable order (time
range, then path) and each prefix of that order is named by a chain of digests of its files'
identities. The longest prefix whose merged partial is kept stands for all its files; the
files after it contribute their own partials. When at least ``MERGE_STEP`` files past the
newest ``MERGE_TAIL`` (which a compaction may still rewrite) are not yet in the prefix, the
prefix's partial and theirs are merged into a longer one and kept, like any partial: one
merge per ``MERGE_STEP`` new files. A merged partial holds the partial states of exactly the
files of its prefix (counts and sums added, minimums and maximums of each, the NaN and
``-0.0`` counts added), so the final aggregate over it gives what it gives over theirs.

A file rewritten, deleted or compacted, or a late file sorting before the newest, changes
the chain from its place on: a shorter merged prefix still kept (one made at an earlier
step, unless the store's bound has aged it out) or else the files' own partials (kept, or
aggregated again when they have aged out: a query then pays for them once) serve again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Sequence

import pyarrow as pa

from flight_iox.query.partial_parts import file_identity
from flight_iox.query.partial_store import PartialStore
from iox_catalog.files import DataFile

MERGE_STEP = 8  # files a merged prefix grows by at once (one merge per eight new files)
MERGE_TAIL = 4  # the newest files, which a compaction may still rewrite, stay on their own


def settle_order(files: Sequence[DataFile]) -> list[DataFile]:
    """``files`` oldest first (time range, then path): new files come last."""
    return sorted(files, key=lambda f: (f.min_time_us, f.max_time_us, f.path))


def prefix_digests(files: Sequence[DataFile]) -> list[bytes]:
    """For each prefix of ``files``, a digest of the identities of every file in it."""
    digests: list[bytes] = []
    digest = b""
    for file in files:
        step = digest + repr(file_identity(file)).encode()
        digest = hashlib.blake2b(step, digest_size=16).digest()
        digests.append(digest)
    return digests


class SettledPrefixes:
    """Merged partials of the oldest files, found and extended in ``PartialStore``."""

    def __init__(self, store: PartialStore) -> None:
        self._store = store
        self.step = MERGE_STEP  # 0: off (a partial per file)
        self.tail = MERGE_TAIL
        self.merges = 0  # merged partials made

    def partials(
        self,
        files: Sequence[DataFile],
        key_of: Callable[[Hashable], Hashable],
        partial_of: Callable[[DataFile], tuple[pa.Table, bool]],
        merge: Callable[[list[pa.Table]], pa.Table | None],
        found_prefix: Callable[[pa.Table], object] = lambda partial: None,
    ) -> list[pa.Table]:
        """Partials covering each of ``files`` once: a kept merged prefix, if one is found
        (passed to ``found_prefix``, which counts it against a statement's bound), then a
        partial per later file (``partial_of``: the partial, and whether it was found kept).
        ``key_of`` makes a store key of a prefix's name; ``merge`` combines partials into
        one (None: it could not, and each stays on its own).

        A longer prefix is merged only when every partial it adds was found kept (the
        statement recurs: one whose time literal moves at every run makes new partials
        each time, and a merge of them would never be read) and the merge fits the store
        (one that cannot be kept would be merged again at every run)."""
        ordered = settle_order(files)
        if self.step <= 0:
            return [partial_of(file)[0] for file in ordered]
        digests = prefix_digests(ordered)
        start, found = 0, None
        for length in range(len(ordered), 0, -1):
            key = key_of(("merged", length, digests[length - 1]))
            if key in self._store and (found := self._store.get(key)) is not None:
                start = length
                found_prefix(found)
                break
        made = [partial_of(file) for file in ordered[start:]]
        partials = ([] if found is None else [found]) + [partial for partial, _ in made]
        settled = len(ordered) - self.tail
        if settled - start < self.step or not all(kept for _, kept in made[: settled - start]):
            return partials
        count = settled - start + (found is not None)
        size = sum(partial.get_total_buffer_size() for partial in partials[:count])
        if size * 5 // 4 > self._store.capacity_bytes:  # ``entry_bytes``: never kept
            return partials
        merged = merge(partials[:count])
        if merged is None:
            return partials
        self.merges += 1
        self._store.keep(key_of(("merged", settled, digests[settled - 1])), merged)
        return [merged, *partials[count:]]
