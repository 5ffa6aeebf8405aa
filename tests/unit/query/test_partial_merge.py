"""Settled files' partials merged into one give the plain plan's answer (``partial_merge.py``).

The merge is exercised with small steps (two files at a time, the newest file left alone)
over many small files, against a server without partials, through late files, a DELETE, a
compaction, another principal's scope and a NaN in a merged file; and ``SettledPrefixes`` is
checked on its own to cover each file exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from flight_iox.app import App
from flight_iox.auth.policy import ANONYMOUS, Principal
from flight_iox.auth.tokens import Action, Permission, TokenRecord
from flight_iox.query.partial_merge import SettledPrefixes, settle_order
from flight_iox.query.partial_store import PartialStore
from iox_catalog.files import DataFile
from tests.unit.query.test_partial_aggs import (
    QUERIES,
    _build,
    _lines,
    _rows,
    _same_everywhere,
    _write,
)


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[tuple[App, App]]:
    cached = _build(tmp_path / "cached", 64 << 20)
    prefixes = cached.query.partial_aggregates.prefixes
    prefixes.step, prefixes.tail = 2, 1
    plain = _build(tmp_path / "plain", 0)
    yield cached, plain
    cached.close()
    plain.close()


def _merges(app: App) -> int:
    return app.query.partial_aggregates.prefixes.merges


def _files(app: App, database: str) -> int:
    sql = "SELECT count(*) FROM system.parquet_files WHERE table_name = 'cpu'"
    return _rows(app, database, sql)[1][0][0]


def test_many_files_merged_answer_as_planned(apps: tuple[App, App]) -> None:
    for seed in range(7):
        _write(apps, "many", _lines(seed, 120, start_minute=10 * seed), persist=True)
    _write(apps, "many", _lines(99, 50, start_minute=80))  # and a buffer
    _same_everywhere(apps, "many")
    merges = _merges(apps[0])
    assert merges > 0
    _same_everywhere(apps, "many")  # from the merged prefixes found
    assert _merges(apps[0]) == merges  # nothing new to merge
    for app in apps:
        app.persister.persist("many")  # the buffer becomes the eighth file
    for seed in range(9, 12):
        _write(apps, "many", _lines(seed, 120, start_minute=10 * seed), persist=True)
    _same_everywhere(apps, "many")
    assert _merges(apps[0]) > merges  # the prefix grew


def test_late_files_deletes_and_compaction(apps: tuple[App, App]) -> None:
    for seed in range(6):
        _write(apps, "changes", _lines(seed, 100, start_minute=10 * seed), persist=True)
    _same_everywhere(apps, "changes")
    # A late file sorting among the oldest, apart from them in series: the chain breaks there.
    late = _lines(40, 60, start_minute=5).replace("region=", "region=late")
    _write(apps, "changes", late, persist=True)
    _same_everywhere(apps, "changes")
    # The same rows again: now it overlaps and is deduplicated with its twin, fresh.
    _write(apps, "changes", late.replace("big=", "f=0.25,big="), persist=True)
    _same_everywhere(apps, "changes")
    for app in apps:
        app.sql.scoped(ANONYMOUS).execute_update("changes", "DELETE FROM cpu WHERE host = 'b'")
    _same_everywhere(apps, "changes")
    before = _files(apps[0], "changes")
    for app in apps:
        app.persister.compact("changes")
    assert _files(apps[0], "changes") <= before
    _same_everywhere(apps, "changes")


def test_each_scope_merges_its_own(apps: tuple[App, App]) -> None:
    for seed in range(5):
        _write(apps, "scoped", _lines(seed, 100, start_minute=10 * seed), persist=True)
    _write(apps, "other", _lines(50, 10))
    grants = (Permission("scoped", frozenset({Action.READ})),)
    reader = Principal("t", False, TokenRecord("id", "t", "h", False, grants))
    cached, plain = apps
    sql = QUERIES["soak"]
    want = _rows(plain, "scoped", sql)
    for _ in range(2):  # the first run makes each file's partial, the second merges them
        assert _rows(cached, "scoped", sql) == want
    merges = _merges(cached)
    assert merges > 0
    for _ in range(2):
        assert _rows(cached, "scoped", sql, reader) == want
    assert _merges(cached) > merges  # not the anonymous caller's merged partial


def test_a_nan_in_a_merged_file_leaves_the_statement_to_the_plan(apps: tuple[App, App]) -> None:
    _write(apps, "nan", "cpu,host=a,region=eu f=NaN,big=1i 1", persist=True)
    for seed in range(1, 6):
        _write(apps, "nan", _lines(seed, 100, start_minute=10 * seed), persist=True)
    sql = "SELECT host, max(f), min(f) FROM cpu GROUP BY host ORDER BY host"
    for _ in range(3):
        assert _rows(apps[0], "nan", sql) == _rows(apps[1], "nan", sql)
    assert _merges(apps[0]) > 0


def _file(number: int, path: str | None = None) -> DataFile:
    return DataFile(path or f"f{number}", 10, 100, number * 10, number * 10 + 5, number)


def test_prefixes_cover_each_file_once() -> None:
    """Partials counted by the files they hold: each call's sum is every file, once."""
    prefixes = SettledPrefixes(PartialStore(1 << 20))
    prefixes.step, prefixes.tail = 3, 2
    made: list[str] = []
    fresh: set[str] = set()  # files whose partial is made now, not found kept

    def partial_of(file: DataFile) -> tuple[pa.Table, bool]:
        made.append(file.path)
        return pa.table({"files": [1], "names": [file.path]}), file.path not in fresh

    def merge(parts: list[pa.Table]) -> pa.Table:
        names = ",".join(sorted(",".join(p.column("names").to_pylist()) for p in parts))
        return pa.table({"files": [sum(p.column("files")[0].as_py() for p in parts)],
                         "names": [names]})  # fmt: skip

    def run(files: list[DataFile]) -> list[pa.Table]:
        made.clear()
        parts = prefixes.partials(files, lambda name: ("t", name), partial_of, merge)
        covered = sorted(
            ",".join(n for p in parts for n in p.column("names").to_pylist()).split(",")
        )
        assert covered == sorted(f.path for f in files)
        return parts

    files = [_file(n) for n in range(10)]
    assert len(run(files[::-1])) == 1 + 2  # eight settled files merged, the newest two alone
    assert prefixes.merges == 1
    assert len(run(files)) == 3 and made == ["f8", "f9"]  # the prefix found, in any order
    grown = [*files, *(_file(n) for n in range(10, 13))]
    assert len(run(grown)) == 3 and prefixes.merges == 2  # three new settled: merged on
    assert made == ["f8", "f9", "f10", "f11", "f12"]
    rewritten = [*grown[:4], _file(4, "f4-compacted"), *grown[5:]]
    # The chain breaks at the fifth file, and no kept prefix ends before it: the settled
    # files' own partials serve, the rewritten one's made now, so nothing is merged yet
    # (a statement whose partials are made at each run would never read a merge of them).
    fresh.add("f4-compacted")
    assert len(run(rewritten)) == 13 and prefixes.merges == 2
    assert "f4-compacted" in made and len(made) == 13
    fresh.clear()  # the next run finds it kept: merged again
    assert len(run(rewritten)) == 3 and prefixes.merges == 3
    assert settle_order(rewritten)[4].path == "f4-compacted"


def test_a_merge_the_store_cannot_keep_is_not_made() -> None:
    prefixes = SettledPrefixes(PartialStore(64))
    prefixes.step, prefixes.tail = 2, 0
    merged: list[int] = []

    def merge(parts: list[pa.Table]) -> pa.Table:
        merged.append(len(parts))
        return parts[0]

    files = [_file(n) for n in range(4)]
    big = pa.table({"v": list(range(100))})
    parts = prefixes.partials(files, lambda name: name, lambda file: (big, True), merge)
    assert len(parts) == 4 and merged == [] and prefixes.merges == 0


def test_a_merged_prefix_counts_against_the_query_pool(
    apps: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kept merged prefix is bytes the statement holds outside DataFusion's pool, as its
    files' partials were: past ``--query-memory-limit`` the plain plan answers instead."""
    cached, plain = apps
    partials = cached.query.partial_aggregates
    partials.prefixes.tail = 0
    for seed in range(4):
        _write(apps, "pool", _lines(seed, 100, start_minute=10 * seed), persist=True)
    sql = QUERIES["soak"]
    want = _rows(plain, "pool", sql)
    for _ in range(2):  # the second run merges all four files
        assert _rows(cached, "pool", sql) == want
    finals: list[int] = []
    final = partials._runs.final
    monkeypatch.setattr(partials._runs, "final", lambda *a: finals.append(1) or final(*a))
    assert _rows(cached, "pool", sql) == want  # from the merged prefix
    assert finals == [1]
    monkeypatch.setattr(partials, "memory_limit", 1)
    assert _rows(cached, "pool", sql) == want  # the merged prefix alone is past the pool
    assert finals == [1]  # so the plain plan answered
