"""Misbehaving plugins stop nothing but their own trigger, and error_behavior is honoured.

A plugin that raises, one that loops forever, one that ends its process with
``os._exit``, one that eats memory and one that blocks every request run next to a
well-behaved trigger: writes and
queries go on (each acknowledged and read back while the bad ones misbehave), the good
trigger keeps working, and each failure is in ``system.processing_engine_logs``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.e2e.processing_env import Engine, start_engine
from tests.e2e.tokens import bearer


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One server for the module; nothing here is read back after a restart, so its stop
    persists nothing, and a request waits 0.5 s (not 5) for a busy trigger's worker."""
    root = tmp_path_factory.mktemp("isolation")
    running = start_engine(root, "--plugin-request-wait", "0.5", "--no-persist-on-shutdown")
    yield running
    running.server.stop()


def _errors(engine: Engine, trigger: str, reason: str) -> list[dict[str, object]]:
    return engine.wait_rows(
        "SELECT log_text FROM system.processing_engine_logs "
        f"WHERE trigger_name = '{trigger}' AND log_level = 'ERROR' "
        f"AND log_text LIKE '%({reason})%'",
        lambda rows: len(rows) > 0,
    )


def test_misbehaving_plugins_do_not_stop_writes_queries_or_other_triggers(engine: Engine) -> None:
    alert = {"field": "usage", "threshold": "90", "alert_table": "alerts"}
    assert engine.trigger("good", "threshold_alert.py", "table:cpu", alert).status_code == 201
    assert engine.trigger("raises", "raises.py", "table:cpu").status_code == 201
    assert engine.trigger("loops", "loops.py", "every:1s").status_code == 201
    assert engine.trigger("exits", "exits.py", "request:exit").status_code == 201
    engine.write(f"cpu,host=a usage=95 {time.time_ns()}")
    raised = _errors(engine, "raises", "raised")
    assert "ValueError: this plugin always fails" in str(raised[0]["log_text"])
    assert "about to fail" in {r["log_text"] for r in engine.logs("raises")}
    looped = _errors(engine, "loops", "timeout")
    assert "timed out; its worker was killed" in str(looped[0]["log_text"])

    reply = engine.call("GET", "/api/v3/engine/exit", engine.writer)
    assert reply.status_code == 500
    assert "plugin worker exited (status 3)" in reply.json()["error"]
    reply = engine.call("GET", "/api/v3/engine/exit", engine.writer, params={"eat": "1"})
    assert reply.status_code == 500 and "MemoryError" in reply.json()["error"]

    # Meanwhile (the loop is killed and restarted every few seconds) the server goes on.
    for n in range(5):
        engine.write(f"cpu,host=b{n} usage={91 + n} {time.time_ns()}")
        assert engine.sql(f"SELECT usage FROM cpu WHERE host = 'b{n}'") == [{"usage": 91.0 + n}]
    rows = engine.wait_rows("SELECT host FROM alerts ORDER BY host", lambda rows: len(rows) == 6)
    assert [r["host"] for r in rows] == ["a", "b0", "b1", "b2", "b3", "b4"]
    states = engine.sql(  # this test's triggers (another test of the module disables one)
        "SELECT trigger_name, disabled FROM system.processing_engine_triggers "
        "WHERE trigger_name IN ('good', 'raises', 'loops', 'exits') ORDER BY 1"
    )
    assert [s["trigger_name"] for s in states] == ["exits", "good", "loops", "raises"]
    assert all(s["disabled"] is False for s in states)  # error_behavior log: all still enabled
    engine.cli("disable", "trigger", "-d", "plugins_e2e", "loops")


def test_error_behavior_disable_disables_the_trigger(engine: Engine) -> None:
    reply = engine.trigger("fragile", "raises.py", "table:boom", error_behavior="disable")
    assert reply.status_code == 201, reply.text
    engine.write("boom,host=a v=1 1000")
    engine.wait_rows(
        "SELECT disabled FROM system.processing_engine_triggers WHERE trigger_name = 'fragile'",
        lambda rows: rows == [{"disabled": True}],
    )
    levels = [(r["log_level"], r["log_text"][:40]) for r in engine.logs("fragile")]
    assert ("WARN", "trigger disabled after an error (error_b") in levels


def test_error_behavior_retry_delivers_the_batch_again(engine: Engine) -> None:
    reply = engine.trigger("flaky", "flaky.py", "table:flaky_src", error_behavior="retry")
    assert reply.status_code == 201, reply.text
    engine.write("flaky_src,host=a usage=1 1000\nflaky_src,host=b usage=2 1000")
    rows = engine.wait_rows(
        "SELECT host, usage, attempts FROM copied ORDER BY host", lambda rows: len(rows) == 2
    )
    assert rows == [
        {"host": "a", "usage": 1.0, "attempts": 3},
        {"host": "b", "usage": 2.0, "attempts": 3},
    ]
    failures = [r for r in engine.logs("flaky") if r["log_level"] == "ERROR"]
    firsts = [f["log_text"].split("\n")[0][-15:] for f in failures]
    assert firsts == ["attempt 1 fails", "attempt 2 fails"]


def test_a_blocking_request_plugin_holds_neither_writes_nor_queries(engine: Engine) -> None:
    """Many requests at a plugin that blocks: each ends (timed out or busy), the server serves.

    The one request in the plugin holds its worker for the whole call timeout (3 s) while the
    writes and queries run; the others give up after the server's 0.5 s request wait
    (``--plugin-request-wait``; at its default of 5 s, each request that got the worker next
    blocked for another 3 s, and the 24 took 12 s). What ends them is the same: a timeout
    (500) or a busy worker (503).
    """
    assert engine.trigger("blocks", "blocks.py", "request:blocks").status_code == 201
    url = f"{engine.url}/api/v3/engine/blocks"
    with ThreadPoolExecutor(max_workers=24) as pool:
        calls = [
            pool.submit(requests.get, url, headers=bearer(engine.writer), timeout=120)
            for _ in range(24)
        ]
        for n in range(10):  # while the requests wait for the plugin
            engine.write(f"during,host=h usage={n} {1000 + n}")
            assert engine.sql("SELECT count(*) AS n FROM during") == [{"n": n + 1}]
        statuses = {call.result().status_code for call in calls}
    assert statuses <= {500, 503}, statuses
    errors = _errors(engine, "blocks", "timeout")
    assert "timed out" in str(errors[0]["log_text"])
