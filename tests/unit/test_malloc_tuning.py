"""The server keeps freed heap memory: a request's megabytes are not faulted in again."""

from __future__ import annotations

import ctypes.util
import resource

import pytest

from flight_iox.malloc_tuning import keep_freed_memory

glibc_only = pytest.mark.skipif(
    ctypes.util.find_library("c") != "libc.so.6", reason="glibc's mallopt"
)


@glibc_only
def test_freed_megabytes_are_reused_without_page_faults() -> None:
    """With glibc's defaults this loop faults ~32,000 pages (1,600 per request)."""
    assert keep_freed_memory()
    chunk = b"x" * 65536

    def request() -> None:
        parts = [chunk * (i % 3 + 1) for i in range(26)]  # a body as it arrives, in reads
        bytearray(b"".join(parts))  # joined, and copied once more

    for _ in range(3):  # the heap grows to its size once
        request()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        request()
    assert resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before < 2_000


def test_the_users_own_malloc_settings_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert not keep_freed_memory()
