"""Partials kept for the buffer's settled segments give the plain plan's answers.

The same writes go to a server keeping partial aggregates, with segments of 16 buffered rows
(so a few hundred rows make many), and to one without the cache. Every statement is checked
equal on both while the buffer grows in order and with late rows, while its rows are frozen
for a persist, after a failed persist returns them, after a persist and when the buffer
overlaps a file; and the settled segments are found kept on the next run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flight_iox.app import App
from tests.unit.query.test_partial_aggs import (
    ELIGIBLE,
    QUERIES,
    _build,
    _close,
    _counts,
    _lines,
    _rows,
    _same_everywhere,
    _write,
)

SEGMENT = 16


@pytest.fixture()
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, App]]:
    cached = _build(tmp_path_factory.mktemp("cached"), 64 << 20)
    cached.query.partial_aggregates.segment_rows = SEGMENT
    plain = _build(tmp_path_factory.mktemp("plain"), 0)
    yield cached, plain
    cached.close()
    plain.close()


def _in_order(first: int, count: int) -> str:
    """``count`` rows, each later than every row before it (a steady writer)."""
    hosts = ("a", "b", "c")
    return "\n".join(
        f"cpu,host={hosts[n % 3]},region=eu f={(first + n) / 3:.3f},i={n % 50}i,big=1i {first + n}"
        for n in range(count)
    )


def test_a_growing_buffer_is_answered_from_kept_segments(apps: tuple[App, App]) -> None:
    _write(apps, "grow", _in_order(1_000, 200))
    _same_everywhere(apps, "grow")
    hits_before = _counts(apps[0])[0]
    _write(apps, "grow", _in_order(2_000, 100))  # after every buffered row
    _same_everywhere(apps, "grow")
    hits = _counts(apps[0])[0] - hits_before
    assert hits >= len(ELIGIBLE) * (200 // SEGMENT)  # the first 200 rows' segments, kept


def test_late_rows_unsettle_only_the_segments_they_touch(apps: tuple[App, App]) -> None:
    _write(apps, "late", _in_order(1_000, 320))
    _same_everywhere(apps, "late")
    buffers, schema = apps[0].buffers, apps[0].persister.tables.schema("late", "cpu")
    assert schema is not None
    first = buffers.snapshot("late", "cpu", schema)
    _write(apps, "late", "cpu,host=c,region=eu f=-1,i=1i 1200")  # replaces a row's f and i
    _same_everywhere(apps, "late")
    second = buffers.snapshot("late", "cpu", schema)
    assert second.epoch == first.epoch
    assert second.rewrites == (200,)  # the rows from 1200 on were merged with the late one
    assert second.version(192) == first.version(192) == 0  # 12 segments kept, the rest anew
    assert second.version(208) != first.version(208)
    assert second.buffered.num_rows == 320
    _write(apps, "late", _lines(5, 200))  # late everywhere, with duplicate keys
    _same_everywhere(apps, "late")


def test_frozen_thawed_and_persisted_rows(apps: tuple[App, App]) -> None:
    _write(apps, "freeze", _in_order(1_000, 150))
    _same_everywhere(apps, "freeze")
    cached = apps[0]
    schema = cached.persister.tables.schema("freeze", "cpu")
    assert schema is not None
    assert cached.buffers.freeze("freeze", "cpu", schema) is not None  # a persist under way
    _write(apps, "freeze", _in_order(2_000, 40))
    _same_everywhere(apps, "freeze")
    _write(apps, "freeze", "cpu,host=a,region=eu f=9,i=9i,big=1i 1100")  # late: into frozen
    _same_everywhere(apps, "freeze")
    cached.buffers.thaw("freeze", "cpu", schema)  # the persist failed: the rows come back
    _same_everywhere(apps, "freeze")
    _write(apps, "freeze", _in_order(3_000, 60), persist=True)
    _write(apps, "freeze", _in_order(4_000, 70))
    _same_everywhere(apps, "freeze")


def test_a_buffer_overlapping_a_file_is_deduplicated_with_it(apps: tuple[App, App]) -> None:
    _write(apps, "overlap", _in_order(1_000, 100), persist=True)
    _write(apps, "overlap", _in_order(1_050, 100))  # rewrites keys of the file
    _same_everywhere(apps, "overlap")
    cached, plain = apps
    sql = QUERIES["each aggregate by host"]
    got, want = _rows(cached, "overlap", sql)[1], _rows(plain, "overlap", sql)[1]
    assert all(all(map(_close, g, w)) for g, w in zip(got, want, strict=True))
