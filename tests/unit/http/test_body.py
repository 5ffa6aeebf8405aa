"""gzip bodies are inflated within the size limit; bad ones get clear errors."""

from __future__ import annotations

import gzip

import pytest

from flight_iox.errors import InvalidBodyError, PayloadTooLargeError
from flight_iox.http.body import gunzip


def test_gzip_round_trip() -> None:
    assert gunzip(gzip.compress(b"cpu v=1 1\n"), 1024) == b"cpu v=1 1\n"


def test_gzip_bomb_is_rejected_without_inflating_it_all() -> None:
    bomb = gzip.compress(b"\0" * (10 * 1024 * 1024))
    with pytest.raises(PayloadTooLargeError):
        gunzip(bomb, 1024 * 1024)


@pytest.mark.parametrize(
    "body",
    [b"not gzip at all", gzip.compress(b"cpu v=1", mtime=0)[:-6]],
    ids=["not-gzip", "truncated"],  # stable ids: xdist's workers must collect the same tests
)
def test_bad_or_truncated_gzip(body: bytes) -> None:
    with pytest.raises(InvalidBodyError):
        gunzip(body, 1024)
