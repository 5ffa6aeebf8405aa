"""WAL replication between real processes: sync, async, pull, promotion, a paused replica.

Each test starts its own leader and replica (a promotion or a ``kill -9`` leaves nothing
to share); the sync test runs the paused replica and the kill -9 on one pair, since
server starts are most of these tests' time. Nothing waits on a timer: every convergence
is polled for (``polling.eventually``); the longer rounds are in
``test_replication_slow.py``.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as flight
import pytest
import requests

from tests.e2e.cluster import write_lp
from tests.e2e.polling import eventually
from tests.e2e.replication import (
    DB,
    Writers,
    count,
    keys,
    line,
    nodes,
    promote,
    replication,
)


def test_sync_a_paused_replica_times_writes_out_and_after_kill_9_promotion_loses_nothing(
    tmp_path: Path,
) -> None:
    with nodes(tmp_path) as started:
        replica = started.start("replica", "--replica")
        leader = started.start(
            "leader", "--replicate-to", replica.flight_uri, "--replication", "sync",
            "--replication-timeout", "1",
        )  # fmt: skip
        assert write_lp(leader, DB, line("x", 1)).status_code == 204
        replica.process.send_signal(signal.SIGSTOP)
        try:
            reply = write_lp(leader, DB, line("x", 2), timeout=60)  # never hangs: answers
            assert reply.status_code == 504, reply.text
            error = reply.json()["error"]
            assert replica.flight_uri in error and "--replication-timeout" in error
        finally:
            replica.process.send_signal(signal.SIGCONT)
        eventually(lambda: write_lp(leader, DB, line("x", 3)).status_code, 204)
        # The refused write was in the leader's WAL: it reached the replica once it woke.
        assert keys(replica) >= {("x", "1"), ("x", "2"), ("x", "3")}

        writers = Writers(leader, ["a", "b", "c"])
        assert writers.started.wait(60)
        leader.kill()
        acked = writers.stop()
        assert promote(replica)["promoted"] is True
        assert acked <= keys(replica)  # every acknowledged write survived the leader
        assert write_lp(replica, DB, line("after", 1)).status_code == 204
        assert ("after", "1") in keys(replica)
        assert promote(replica) == {
            "node_id": "replica", "promoted": False, "reason": "already a writer",
        }  # fmt: skip


def test_async_lag_is_reported_and_drains_to_zero(tmp_path: Path) -> None:
    with nodes(tmp_path) as started:
        replica = started.start("replica", "--replica")
        leader = started.start("leader", "--replicate-to", replica.flight_uri)
        writers = Writers(leader, ["a", "b"])
        assert writers.started.wait(60)
        (row,) = replication(leader)  # under load: reported, whatever its value
        assert (row["replica"], row["mode"], row["leader"]) == (
            replica.flight_uri,
            "async",
            "leader",
        )
        assert row["lag_entries"] is None or row["lag_entries"] >= 0
        acked = writers.stop()
        last = max(r["last_acked_sequence"] or 0 for r in replication(leader))
        eventually(
            lambda: [(r["lag_entries"], r["lag_bytes"], r["state"]) for r in replication(leader)],
            [(0, 0, "streaming")],
        )
        (row,) = replication(leader)
        assert row["last_acked_sequence"] == row["last_shipped_sequence"] >= last
        assert row["lag_seconds"] == 0.0
        assert acked <= keys(replica) and count(replica) == count(leader)
        (own,) = replication(replica)
        assert (own["mode"], own["leader"], own["last_acked_sequence"]) == (
            "replica", f"leader ({leader.http_url})", row["last_acked_sequence"],
        )  # fmt: skip
        refused = write_lp(replica, DB, line("z", 1))  # names the leader, where writes go
        assert refused.status_code == 421 and leader.http_url in refused.json()["error"]


def test_a_pull_follower_catches_up_after_a_pause_and_refuses_writes(tmp_path: Path) -> None:
    with nodes(tmp_path) as started:
        leader = started.start("leader")
        follower = started.start("follower", "--follow", leader.flight_uri)

        def write(n: int) -> None:
            assert write_lp(leader, DB, line("p", n)).status_code == 204

        for n in range(1, 6):
            write(n)
        eventually(lambda: count(follower), 5)
        follower.process.send_signal(signal.SIGSTOP)  # the follower pauses
        for n in range(6, 11):
            write(n)
        follower.process.send_signal(signal.SIGCONT)
        eventually(lambda: count(follower), 10)

        refused = write_lp(follower, DB, line("p", 99))
        assert refused.status_code == 421
        assert leader.flight_uri in refused.json()["error"]
        ddl = requests.post(f"{follower.http_url}/api/v3/configure/database", json={"db": "x"})
        assert ddl.status_code == 421, ddl.text
        table_url = f"{follower.http_url}/api/v3/configure/table"
        field = {"name": "v", "type": "int64"}
        made = {"db": DB, "table": "other", "tags": ["w"], "fields": [field]}
        for refused in (
            requests.post(table_url, json=made, timeout=60),
            requests.delete(table_url, params={"db": DB, "table": "t"}, timeout=60),
            requests.post(
                f"{follower.http_url}/query",
                params={"db": DB, "q": "DELETE FROM t WHERE time > 0"},
                timeout=60,
            ),
        ):
            assert "read-only replica of" in refused.text, refused.text
        assert count(follower) == 10  # nothing was deleted or dropped
        client = flight.FlightClient(follower.flight_uri)
        descriptor = flight.FlightDescriptor.for_path(DB, "t")
        table = pa.table({"time": pa.array([5], pa.timestamp("ns")), "v": [1.0]})
        with pytest.raises(flight.FlightError, match="read-only replica of"):
            writer, _ = client.do_put(descriptor, table.schema)
            writer.write_table(table)
            writer.close()
        client.close()
        rows = {r["replica"]: r for r in replication(leader)}
        assert rows["follower"]["mode"] == "pull"
        eventually(lambda: replication(leader)[0]["lag_entries"], 0)
