"""The longer replication tests (``-m slow``): a chain of kill -9 and promotions under load;
a pull follower through a pause of its leader and restarts; the resync from a backup; a
sync quorum with a paused replica; shipping to a replica that requires tokens."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.e2e.cluster import write_lp
from tests.e2e.polling import eventually
from tests.e2e.replication import DB, Writers, count, keys, line, nodes, promote, replication

pytestmark = pytest.mark.slow
ROUNDS = 5


def test_rounds_of_kill_9_and_promotion_with_sync_lose_nothing(tmp_path: Path) -> None:
    """Each round: writers on the leader, ``kill -9``, promote its replica, which becomes
    the next leader of a fresh replica; every acknowledged write of every round is kept."""
    with nodes(tmp_path) as started:
        replica_name, leader_name = "r0", "leader"
        replica = started.start(replica_name, "--replica")
        sync = ["--replication", "sync"]
        leader = started.start(leader_name, "--replicate-to", replica.flight_uri, *sync)
        acked: set[tuple[str, str]] = set()
        for round_ in range(1, ROUNDS + 1):
            writers = Writers(leader, [f"w{round_}a", f"w{round_}b"])
            assert writers.started.wait(60)
            leader.kill()
            acked |= writers.stop()
            assert promote(replica)["promoted"] is True
            assert acked <= keys(replica), f"round {round_} lost acknowledged writes"
            # The promoted node leads a fresh replica from now on: restarted with the flags
            # (its promotion outlives the restart, so its --replica is ignored).
            fresh_name = f"r{round_}"
            fresh = started.start(fresh_name, "--replica")
            started.flags[replica_name] += ["--replicate-to", fresh.flight_uri, *sync]
            replica.stop()
            leader_name, replica_name = replica_name, fresh_name
            leader, replica = started.start(leader_name), fresh
            assert write_lp(leader, DB, line("check", round_)).status_code == 204
        assert acked <= keys(leader)
        eventually(lambda: count(replica), count(leader))


def test_a_follower_catches_up_after_its_leader_pauses_and_after_its_own_restart(
    tmp_path: Path,
) -> None:
    with nodes(tmp_path) as started:
        leader = started.start("leader")
        follower = started.start(
            "follower", "--follow", leader.flight_uri, "--replication-timeout", "1"
        )
        for n in range(1, 6):
            assert write_lp(leader, DB, line("p", n)).status_code == 204
        eventually(lambda: count(follower), 5)
        leader.process.send_signal(signal.SIGSTOP)  # pulls in flight time out
        try:
            eventually(lambda: replication(follower)[0]["state"], "unreachable")
        finally:
            leader.process.send_signal(signal.SIGCONT)
        for n in range(6, 11):
            assert write_lp(leader, DB, line("p", n)).status_code == 204
        eventually(lambda: count(follower), 10)
        follower.stop()  # resumable: it asks from its own WAL's last sequence
        for n in range(11, 16):
            assert write_lp(leader, DB, line("p", n)).status_code == 204
        follower = started.start("follower")
        eventually(lambda: count(follower), 15)
        leader.stop()  # and the leader restarts: it replays its WAL, the follower resumes
        leader = started.start("leader")
        for n in range(16, 21):
            assert write_lp(leader, DB, line("p", n)).status_code == 204
        eventually(lambda: count(follower), 20)
        assert keys(follower) == keys(leader)


def test_a_follower_the_leader_truncated_past_resyncs_from_a_backup(tmp_path: Path) -> None:
    """A follower started after the leader persisted and deleted its first WAL segments
    is told to resync; restored from a backup of the leader, it follows from there."""
    with nodes(tmp_path) as started:
        leader = started.start("leader", "--wal-segment-bytes", "1KiB")
        for n in range(1, 21):
            assert write_lp(leader, DB, line("b", n)).status_code == 204
        requests.post(f"{leader.http_url}/api/v3/persist", timeout=120).raise_for_status()
        leader.stop()  # restarted, it holds none of them in memory either: only in files
        leader = started.start("leader")
        lost = started.start("lost", "--follow", leader.flight_uri)
        # It holds no database yet to query system.replication in: its log says it.
        eventually(lambda: "restore the follower from a backup" in lost.log(), True)
        assert "resync needed" in lost.log()
        lost.stop()

        backup = tmp_path / "backup"
        _cli("backup", "--host", leader.http_url, "--to", str(backup))
        _cli("restore", "--from", str(backup), "--data-dir", str(tmp_path / "restored"))
        restored = started.start("restored", "--follow", leader.flight_uri)
        for n in range(21, 31):
            assert write_lp(leader, DB, line("b", n)).status_code == 204
        eventually(lambda: count(restored), 30)
        assert keys(restored) == keys(leader)
        assert replication(restored)[0]["state"] == "streaming"


def test_a_sync_quorum_of_one_writes_on_while_the_other_replica_is_paused(tmp_path: Path) -> None:
    with nodes(tmp_path) as started:
        first = started.start("r1", "--replica")
        second = started.start("r2", "--replica")
        leader = started.start(
            "leader", "--replicate-to", f"{first.flight_uri},{second.flight_uri}",
            "--replication", "sync", "--replication-quorum", "1", "--replication-timeout", "1",
        )  # fmt: skip
        second.process.send_signal(signal.SIGSTOP)
        try:
            for n in range(1, 6):
                assert write_lp(leader, DB, line("q", n)).status_code == 204
            assert count(first) == 5  # the quorum: confirmed before each acknowledgement
        finally:
            second.process.send_signal(signal.SIGCONT)
        eventually(lambda: count(second), 5)
        eventually(lambda: [r["lag_entries"] for r in replication(leader)], [0, 0])


def test_shipping_to_a_replica_requiring_tokens_needs_an_admin_cluster_token(
    tmp_path: Path,
) -> None:
    with nodes(tmp_path) as started:
        replica = started.start("replica", "--replica", "--auth", "required")
        admin = requests.post(f"{replica.http_url}/api/v3/configure/token/admin", timeout=30)
        token = admin.json()["token"]
        writer = requests.post(
            f"{replica.http_url}/api/v3/configure/token", timeout=30,
            headers={"Authorization": f"Bearer {token}"},
            json={"name": "w", "permissions": [{"database": DB, "actions": ["write"]}]},
        ).json()["token"]  # fmt: skip
        weak = started.start(
            "weak", "--replicate-to", replica.flight_uri, "--replication", "sync",
            "--replication-timeout", "1", "--cluster-token", writer,
        )  # fmt: skip
        refused = write_lp(weak, DB, line("t", 1))
        assert refused.status_code == 504, refused.text
        assert (
            "refused" in refused.json()["error"] and "not an admin token" in refused.json()["error"]
        )
        weak.stop()
        leader = started.start(
            "leader", "--replicate-to", replica.flight_uri, "--replication", "sync",
            "--cluster-token", token,
        )  # fmt: skip
        assert write_lp(leader, DB, line("t", 2)).status_code == 204
        rows = requests.get(
            f"{replica.http_url}/api/v3/query_sql", timeout=30,
            params={"db": DB, "q": "SELECT n FROM t"}, headers={"Authorization": f"Bearer {token}"},
        ).json()  # fmt: skip
        assert {r["n"] for r in rows} == {"2"}  # the refused write never reached it


def _cli(*args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flight_iox", *args], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
