"""The processing engine end to end: InfluxDB 3 plugin files, unchanged, on a real server.

Plugins (``tests/e2e/plugins``) modelled on public InfluxDB 3 plugins: a downsampler on
``every:``, a threshold alert on ``table:`` writing a second table, a request endpoint
answering JSON. Triggers are made with the HTTP API and the ``flight-iox`` CLI; data is
written and read with influxdb3-python (HTTP writes, Flight queries) and plain HTTP.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from influxdb_client_3 import InfluxDBClient3

from tests.e2e.processing_env import DB, TRIGGER_ROUTE, Engine, start_engine

MINUTE = 60 * 1_000_000_000
BUCKET = (time.time_ns() // (10 * MINUTE) - 12) * 10 * MINUTE  # two hours ago, on a boundary


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    # Never restarted: its tables are thrown away, not persisted at the stop.
    running = start_engine(tmp_path_factory.mktemp("processing"), "--no-persist-on-shutdown")
    yield running
    running.server.stop()


def test_plugin_files_upload_only_into_the_plugin_folder(engine: Engine) -> None:
    for name in ("../escape.py", "/tmp/escape.py", "deep/../../escape.py"):
        body = {"plugin_name": name, "content": "x = 1"}
        reply = engine.call("PUT", "/api/v3/plugins/files", json=body)
        assert reply.status_code == 400, reply.text
        assert "outside the plugin folder" in reply.json()["error"]
    reply = engine.call(
        "PUT", "/api/v3/plugins/files", json={"plugin_name": "a.txt", "content": ""}
    )
    assert reply.status_code == 400 and "must end in .py" in reply.json()["error"]
    assert not (engine.plugin_dir.parent / "escape.py").exists()
    body = {"plugin_name": "tools/helper.py", "content": "x = 1"}
    assert engine.call("PUT", "/api/v3/plugins/files", engine.creator, json=body).status_code == 403
    assert engine.call("PUT", "/api/v3/plugins/files", json=body).status_code == 200
    listed = [
        json.loads(line) for line in engine.cli("show", "plugins", token=engine.admin).splitlines()
    ]
    names = {row["file_name"] for row in listed}
    assert {"tools/helper.py", "threshold_alert.py", "downsampler.py"} <= names


def test_bad_triggers_are_named(engine: Engine) -> None:
    cases = {
        ("t1", "threshold_alert.py", "tabel:cpu"): "'trigger_specification'",
        ("t2", "threshold_alert.py", "every:soon"): "not a duration",
        ("t3", "threshold_alert.py", "cron:61 * * * *"): "not a cron expression",
        ("t4", "no_such.py", "table:cpu"): "no plugin file",
        ("t5", "../x.py", "table:cpu"): "outside the plugin folder",
        ("bad name!", "threshold_alert.py", "table:cpu"): "'trigger_name'",
    }
    for (name, plugin, spec), message in cases.items():
        reply = engine.trigger(name, plugin, spec)
        assert reply.status_code in (400, 404), reply.text
        assert message in reply.json()["error"]
    reply = engine.trigger("t6", "threshold_alert.py", "table:cpu", error_behavior="explode")
    assert reply.status_code == 400 and "'error_behavior'" in reply.json()["error"]
    reply = engine.trigger("t7", "threshold_alert.py", "table:cpu", token=engine.writer)
    assert reply.status_code == 403


def test_threshold_alert_on_table_writes_a_second_table(engine: Engine) -> None:
    engine.cli(
        "create", "trigger", "-d", DB, "--path", "threshold_alert.py",
        "--trigger-spec", "table:cpu",
        "--trigger-arguments", "field=usage,threshold=90,alert_table=cpu_alerts",
        "alert",
    )  # fmt: skip
    now = time.time_ns()
    lines = [
        f"cpu,host=a usage=95 {now}",
        f"cpu,host=b usage=10 {now}",
        f"cpu,host=c usage=200 {now}",
    ]
    with InfluxDBClient3(host=engine.url, database=DB, token=engine.writer) as client:
        client.write(record="\n".join(lines), write_precision="ns")
    engine.wait_rows("SELECT host FROM cpu_alerts", lambda rows: len(rows) == 2)
    flight_host = f"http://127.0.0.1:{engine.server.flight_uri.rsplit(':', 1)[1]}"
    with InfluxDBClient3(host=flight_host, database=DB, token=engine.reader) as client:
        table = client.query(
            "SELECT host, source, value, message, critical, time FROM cpu_alerts ORDER BY host"
        )
    alerts = table.to_pylist()
    assert [(a["host"], a["source"], a["value"], a["critical"]) for a in alerts] == [
        ("a", "cpu", 95.0, False),
        ("c", "cpu", 200.0, True),
    ]
    assert alerts[0]["message"] == 'usage 95.0 > 90.0 on "a"'
    assert {a["time"].value for a in alerts} == {now}  # the rows' own times, to the nanosecond
    assert any("2 rows over 90.0" in line["log_text"] for line in engine.logs("alert"))


def test_downsampler_every_writes_bucket_means(engine: Engine) -> None:
    args = {
        "source_measurement": "load",
        "target_measurement": "load_10m",
        "field": "usage",
        "tag": "host",
        "interval": "10 minutes",
    }
    points = [("a", 1.0, 0), ("a", 2.0, 1), ("a", 6.0, 9), ("b", 5.0, 3), ("a", 100.0, 10)]
    engine.write("\n".join(f"load,host={h} usage={v} {BUCKET + m * MINUTE}" for h, v, m in points))
    reply = engine.trigger("down", "downsampler.py", "every:1s", args)
    assert reply.status_code == 201, reply.text
    assert reply.json()["trigger_specification"] == "every:1s"
    rows = engine.wait_rows(
        "SELECT host, usage, record_count, time FROM load_10m ORDER BY host, time",
        lambda rows: len(rows) == 3,
    )
    assert [(r["host"], r["usage"], r["record_count"]) for r in rows] == [
        ("a", 3.0, 3),
        ("a", 100.0, 1),
        ("b", 5.0, 1),
    ]
    # The cache keeps the run count between calls: a later run overwrites the same points.
    engine.wait_rows("SELECT max(run) AS run FROM load_10m", lambda rows: rows[0]["run"] >= 2)
    assert engine.call("DELETE", TRIGGER_ROUTE, json={"db": DB, "trigger_name": "down"}).ok
    # The same plugin on a cron schedule (six fields, seconds first: every second).
    cron_args = {**args, "target_measurement": "load_cron"}
    assert engine.trigger("cron", "downsampler.py", "cron:* * * * * *", cron_args).ok
    rows = engine.wait_rows(
        "SELECT usage FROM load_cron ORDER BY host, time", lambda r: len(r) == 3
    )
    assert [r["usage"] for r in rows] == [3.0, 100.0, 5.0]
    engine.cli("delete", "trigger", "-d", DB, "cron")


def test_request_trigger_answers_json(engine: Engine) -> None:
    reply = engine.trigger("stats", "host_stats.py", "request:stats/hosts", {"table": "req"})
    assert reply.status_code == 201, reply.text
    now = time.time_ns()
    engine.write(
        f"req,host=a usage=10 {now - 2}\nreq,host=a usage=20 {now - 1}\nreq,host=b usage=1 {now}"
    )
    reply = engine.call("GET", "/api/v3/engine/stats/hosts", engine.writer, params={"host": "a"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert (body["host"], body["count"], body["mean"], body["latest"]) == ("a", 2, 15.0, now - 1)
    assert body["agent"].startswith("python-requests") and body["saw_authorization"] is False
    reply = engine.call("GET", "/api/v3/engine/stats/hosts", engine.writer)
    assert (reply.status_code, reply.json()) == (400, {"error": "host is required"})
    point = {"host": "c", "usage": 7.5, "time": now}
    reply = engine.call("POST", "/api/v3/engine/stats/hosts", engine.writer, json=point)
    assert (reply.status_code, reply.json()) == (201, {"written": 1})
    assert engine.sql("SELECT usage FROM req WHERE host = 'c'") == [{"usage": 7.5}]
    assert engine.call("GET", "/api/v3/engine/stats/hosts", engine.reader).status_code == 403
    assert engine.call("GET", "/api/v3/engine/stats/nothing", engine.writer).status_code == 404


def test_a_trigger_acts_with_its_creators_permissions(engine: Engine) -> None:
    """The creator may write ``DB`` only: its trigger's write into another database is refused."""
    engine.write("src,host=a usage=1 1000")
    args = {"source_measurement": "src", "target_measurement": "stolen", "field": "usage",
            "tag": "host", "target_database": "elsewhere", "window": "100000 days"}  # fmt: skip
    assert engine.trigger("escape", "downsampler.py", "every:1s", args).status_code == 201
    logs = engine.wait_rows(
        "SELECT log_text FROM system.processing_engine_logs WHERE trigger_name = 'escape' "
        "AND log_level = 'ERROR'",
        lambda rows: len(rows) > 0,
    )
    assert "may not write database 'elsewhere'" in logs[0]["log_text"]
    assert engine.sql("SELECT * FROM stolen", db="elsewhere") == []
    engine.cli("delete", "trigger", "-d", DB, "escape")


def test_disabled_write_trigger_resumes_from_its_position(engine: Engine, tmp_path: Path) -> None:
    args = "field=usage,threshold=50,alert_table=held_alerts"
    # A write before the trigger exists, so its starting WAL position is past something
    # (under the threshold: it would raise no alert anyway).
    engine.write("held,host=w usage=1 500")
    engine.cli("create", "trigger", "-d", DB, "--path", "threshold_alert.py",
               "--trigger-spec", "table:held", "--trigger-arguments", args, "held")  # fmt: skip
    engine.cli("disable", "trigger", "-d", DB, "held")
    shown = engine.sql(
        "SELECT disabled, wal_position FROM system.processing_engine_triggers "
        "WHERE trigger_name = 'held'"
    )
    assert shown[0]["disabled"] is True and shown[0]["wal_position"] > 0
    engine.write("held,host=x usage=99 1000")  # while disabled
    engine.cli("enable", "trigger", "-d", DB, "held")
    rows = engine.wait_rows("SELECT host, value FROM held_alerts", lambda rows: len(rows) == 1)
    assert rows == [{"host": "x", "value": 99.0}]
    # A read token sees the database's triggers (this test's own, whatever else has run).
    reader_view = engine.call(
        "GET", "/api/v3/query_sql", engine.reader,
        params={"db": DB, "q": "SELECT trigger_name FROM system.processing_engine_triggers"},
    )  # fmt: skip
    assert reader_view.status_code == 200, reader_view.text
    assert "held" in {row["trigger_name"] for row in reader_view.json()}
    engine.cli("delete", "trigger", "-d", DB, "held")
    names = {
        r["trigger_name"] for r in engine.sql("SELECT * FROM system.processing_engine_triggers")
    }
    assert "held" not in names
