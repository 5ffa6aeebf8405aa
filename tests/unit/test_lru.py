"""LockedLru: a read counts as a use, the entry used longest ago leaves first."""

from __future__ import annotations

from flight_iox.lru import LockedLru


def test_a_read_keeps_an_entry_and_the_longest_unused_leaves() -> None:
    kept: LockedLru[str, int] = LockedLru(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a") == 1  # now "b" is the least recently used
    kept.put("c", 3)
    assert (kept.get("a"), kept.get("b"), kept.get("c"), len(kept)) == (1, None, 3, 2)


def test_pop_and_clear_forget() -> None:
    kept: LockedLru[str, int] = LockedLru(4)
    kept.put("a", 1)
    kept.put("b", 2)
    kept.pop("a")
    kept.pop("missing")
    assert (kept.get("a"), kept.get("b")) == (None, 2)
    kept.clear()
    assert len(kept) == 0
