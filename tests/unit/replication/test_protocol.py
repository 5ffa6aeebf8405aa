"""The replication wire format: frames of contiguous WAL entries, and pull requests."""

from __future__ import annotations

import pyarrow as pa
import pytest

from flight_iox.ports import AcknowledgedWrite
from flight_iox.replication.protocol import (
    Frame,
    ProtocolError,
    PullRequest,
    decode_frame,
    encode_frame,
    payloads,
)
from flight_iox.wal import decode_write


def test_a_frame_round_trips_its_entries_and_header() -> None:
    entries = [(7, b"seven"), (8, b""), (9, b"\x00" * 1000)]
    frame = decode_frame(encode_frame(entries, {"leader": "n1", "acknowledged": 9}))
    assert frame == Frame(tuple(entries), {"leader": "n1", "acknowledged": 9})
    assert (frame.first, frame.last, frame.payload_bytes) == (7, 9, 1005)


def test_an_empty_frame_asks_where_the_replica_is() -> None:
    frame = decode_frame(encode_frame([], {}))
    assert frame.entries == () and frame.first is None and frame.last is None


def test_entries_must_be_contiguous() -> None:
    with pytest.raises(ValueError, match="not contiguous: 9 follows 7"):
        encode_frame([(7, b"a"), (9, b"b")], {})


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b"NOTAFRAME" + b[9:], "bad magic"),
        (lambda b: b[:-3], "truncated"),
        (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "fails its checksum"),
        (lambda b: b[:12] + b"{not json" + b[21:], "not JSON"),
    ],
)
def test_a_damaged_frame_is_refused_whole(damage: object, message: str) -> None:
    data = encode_frame([(1, b"payload-1"), (2, b"payload-2")], {"leader": "x"})
    assert callable(damage)
    with pytest.raises(ProtocolError, match=message):
        decode_frame(damage(data))


def test_payloads_are_wal_payloads_of_the_same_writes() -> None:
    batch = pa.record_batch({"v": pa.array([1.5, 2.5])})
    write = AcknowledgedWrite(4, "db", (("cpu", batch),))
    ((sequence, payload),) = payloads([write])
    decoded = decode_write(payload)
    assert sequence == 4 and decoded.database == "db"
    assert decoded.tables[0].table == "cpu" and decoded.tables[0].batch.equals(batch)


def test_pull_requests_round_trip_and_bad_ones_are_named() -> None:
    request = PullRequest("f1", 41, limit=10, wait=0.5)
    assert PullRequest.decode(request.encode()) == request
    with pytest.raises(ProtocolError, match="bad pull request"):
        PullRequest.decode(b'{"after": 1}')
    with pytest.raises(ProtocolError, match=r"limit in 1\.\.65536"):
        PullRequest.decode(b'{"follower": "f", "after": 1, "limit": 0}')


def test_payloads_stop_at_the_frame_bound_but_always_carry_one() -> None:
    batch = pa.record_batch({"v": pa.array([0.5] * 1000)})
    writes = [AcknowledgedWrite(n, "db", (("cpu", batch),)) for n in range(1, 6)]
    one = len(payloads(writes[:1])[0][1])
    assert [s for s, _ in payloads(writes, max_bytes=2 * one)] == [1, 2]
    assert [s for s, _ in payloads(writes, max_bytes=1)] == [1]
