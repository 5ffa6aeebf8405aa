"""Smoke runs of bench/duckdb_side_by_side.py and bench/peers.py: they run end to end, the
answers agree and every server stores what it was sent (no timings are asserted)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bench import client_handover, duckdb_side_by_side, peers
from bench.ingest import GENERATOR

needs_generator = pytest.mark.skipif(not GENERATOR.exists(), reason="needs ../shared/tsbs")


def smoke(main: Callable[[list[str]], None], out: Path) -> dict:
    """A benchmark's ``--smoke`` run, in this process (so its servers fork from the tests'
    zygote), without a plot; its JSON summary."""
    main(["--smoke", "--out", str(out), "--no-plot"])
    return json.loads(out.read_text())


@needs_generator
def test_duckdb_side_by_side_smoke(tmp_path: Path) -> None:
    summary = smoke(duckdb_side_by_side.main, tmp_path / "side.json")
    assert set(summary["modes"]) == {"cache on", "cache off"}
    rows = {q["name"]: q["rows"] for q in summary["modes"]["cache off"]["queries"]}
    assert rows["count(*)"] == 1 and rows["lastpoint (DISTINCT ON)"] == 3
    assert summary["files"] >= 1


@needs_generator
@pytest.mark.skipif(shutil.which("influxd") is None, reason="needs Debian's influxd")
@pytest.mark.skipif(shutil.which("victoria-metrics") is None, reason="needs victoria-metrics")
def test_peers_smoke(tmp_path: Path) -> None:
    summary = smoke(peers.main, tmp_path / "peers.json")
    assert set(summary["ingest"]) == {"1", "4"}  # JSON keys
    for row in summary["ingest"].values():
        assert row["flight_iox_lines_per_s"] > 0 and row["victoria_metrics_lines_per_s"] > 0
    storage = summary["storage"]
    assert storage["flight_iox_bytes"] > 0 and storage["victoria_metrics_bytes"] > 0


@needs_generator
@pytest.mark.slow  # five server starts and a kill -9 replay: 100 s on the loaded machine
def test_peers_day_smoke(tmp_path: Path) -> None:
    peers.main(["--day", "--smoke", "--out", str(tmp_path / "peers.json"), "--no-plot"])
    day = json.loads((tmp_path / "peers-day.json").read_text())
    assert day["lines"] == 3 * 2 * 360 and day["wal_replay"]["lines"] == 3 * 360
    assert day["rss_peak_bytes"] > 0 and len(day["queries"]) == 9
    assert len(day["baseline_100_hosts_runs"]) == 5


@needs_generator
def test_client_handover_smoke(tmp_path: Path) -> None:
    """Both ways of timing an ingest run time real posts (no timings asserted)."""
    client_handover.main(["--smoke", "--out", str(tmp_path / "handover.json")])
    summary = json.loads((tmp_path / "handover.json").read_text())
    assert set(summary["clients"]) == {"1", "4"} and summary["lines"] > 0
    for row in summary["clients"].values():
        assert row["parent_lines_per_s"] > 0 and row["clients_lines_per_s"] > 0
