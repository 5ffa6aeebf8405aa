"""Apache Superset end to end: a real Superset, in a venv of its own, on a real server.

Superset 6.1 pins ``sqlalchemy<2`` and ``pyarrow<19``, so it cannot share the test
environment. Its venv is built once (about three minutes) and kept under the temp folder
(``FLIGHT_IOX_SUPERSET_VENV`` names another); both client wheels, built fresh, are installed
into it on every run with what their declared dependencies resolve to next to Superset's pins.
The test then does what a user does: ``superset db upgrade``, an admin, ``superset init``,
``superset run``; over the REST API it adds a ``flight_iox://`` database, runs a query in SQL
Lab, adds the table as a dataset, saves a time-series chart with a one-minute time grain and
fetches its data, asks for a legacy ``__timestamp`` series with a time filter, and uploads a
CSV file (Superset's pandas ``to_sql`` through the dialect on SQLAlchemy 1.4). Every
answer must equal the server's own, read through the ADBC driver. Skipped, with pip's words,
when the package index is out of reach. ``-m slow``: three to six minutes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from adbc_driver_flight_iox import dbapi
from flight_iox.launcher import RunningServer

from .conftest import CPU_LINES, write_lp
from .dists import DIALECT, DRIVER, build_wheel, check_install

SUPERSET = "apache-superset==6.1.0"
# Superset 6.1.0's wheel imports rich (CLI) and cachetools (an engine spec) without declaring
# them, and breaks on Flask-Caching 2.5 (a new keyword its metastore cache refuses); its own
# lock file has these.
SUPERSET_FIXES = ["rich", "cachetools", "flask-caching==2.3.1"]
DATABASE = "superset"
ADMIN = {"username": "admin", "password": "admin", "provider": "db", "refresh": False}
EPOCH = datetime(1970, 1, 1)
SUM_USAGE = {
    "expressionType": "SIMPLE",
    "column": {"column_name": "usage"},
    "aggregate": "SUM",
    "label": "SUM(usage)",
}


def _pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def superset_venv(tmp_path: Path) -> Path:
    """Superset's venv with both client wheels; built once, the wheels installed every time."""
    default = Path(tempfile.gettempdir()) / "flight-iox-superset-6.1.0-venv"
    venv = Path(os.environ.get("FLIGHT_IOX_SUPERSET_VENV", default))
    python = venv / "bin" / "python"
    ready = venv / "flight-iox-superset-ready"
    if not ready.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        check_install(_pip(python, "install", "--quiet", SUPERSET, *SUPERSET_FIXES), SUPERSET)
        ready.touch()
    wheels = [str(build_wheel(package, tmp_path)) for package in (DRIVER, DIALECT)]
    # The wheels again (same version, new code), then whatever of their dependencies is missing.
    reinstall = _pip(python, "install", "--quiet", "--force-reinstall", "--no-deps", *wheels)
    check_install(reinstall, "the client wheels")
    check_install(_pip(python, "install", "--quiet", *wheels), "the client wheels' dependencies")
    check = _pip(python, "check")
    assert check.returncode == 0, check.stdout
    return venv


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def superset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running Superset (its URL), initialised as its docs say, with an admin user."""
    home = tmp_path_factory.mktemp("superset")
    venv = superset_venv(home)
    config = home / "superset_config.py"
    config.write_text(
        f'SECRET_KEY = "flight-iox-superset-e2e-{os.getpid()}-0123456789abcdef"\n'
        f'SQLALCHEMY_DATABASE_URI = "sqlite:///{home / "superset.db"}"\n'
        "WTF_CSRF_ENABLED = False  # the API is called with a bearer token only\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}},
        "SUPERSET_CONFIG_PATH": str(config),
        "SUPERSET_HOME": str(home),
        "FLASK_APP": "superset",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    }
    cli = str(venv / "bin" / "superset")
    admin = ["--username", "admin", "--password", "admin", "--firstname", "a", "--lastname", "b"]
    for command in (
        ["db", "upgrade"],
        ["fab", "create-admin", *admin, "--email", "a@b.c"],
        ["init"],
    ):
        done = subprocess.run([cli, *command], env=env, capture_output=True, text=True, cwd=home)
        assert done.returncode == 0, f"superset {' '.join(command)}:\n{done.stderr[-3000:]}"
    port = _free_port()
    log = (home / "superset.log").open("wb")
    process = subprocess.Popen(
        [cli, "run", "-h", "127.0.0.1", "-p", str(port), "--with-threads"],
        env=env,
        cwd=home,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert process.poll() is None, (home / "superset.log").read_text()[-3000:]
            try:
                if requests.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(1)
        else:
            pytest.fail("superset run did not answer /health in 120 s")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def api(superset: str) -> Iterator[requests.Session]:
    session = requests.Session()
    login = session.post(f"{superset}/api/v1/security/login", json=ADMIN, timeout=30)
    assert login.status_code == 200, login.text
    session.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    yield session
    session.close()


@pytest.fixture(scope="module")
def iox_url(server: RunningServer) -> str:
    write_lp(server, DATABASE, CPU_LINES)
    return f"flight_iox://{server.flight_uri.split('://', 1)[1]}/{DATABASE}"


def server_rows(iox_url: str, sql: str) -> list[tuple[Any, ...]]:
    """The server's own answer, through the ADBC driver of the test environment."""
    with dbapi.connect(iox_url) as conn, conn.cursor() as cursor:
        cursor.execute(sql)
        return [tuple(row) for row in cursor.fetchall()]


def _ms(value: datetime) -> float:
    """A timestamp as Superset's JSON sends it: milliseconds since the epoch."""
    return (value - EPOCH) / timedelta(milliseconds=1)


def _ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text[:3000]
    return response.json()


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_superset_sql_lab_dataset_and_time_series_chart(
    superset: str, api: requests.Session, iox_url: str
) -> None:
    engines = _ok(api.get(f"{superset}/api/v1/database/available/"))["databases"]
    spec = next(engine for engine in engines if engine["engine"] == "flight_iox")
    assert (spec["name"], spec["available_drivers"]) == ("flight-iox", ["adbc"])

    tested = api.post(
        f"{superset}/api/v1/database/test_connection/",
        json={"database_name": "flight-iox", "sqlalchemy_uri": iox_url},
    )
    _ok(tested)
    database = _ok(
        api.post(
            f"{superset}/api/v1/database/",
            json={
                "database_name": "flight-iox",
                "sqlalchemy_uri": iox_url,
                "expose_in_sqllab": True,
                "allow_file_upload": True,
            },
        ),
        201,
    )["id"]
    schemas = _ok(api.get(f"{superset}/api/v1/database/{database}/schemas/"))["result"]
    assert "iox" in schemas
    tables = _ok(
        api.get(f"{superset}/api/v1/database/{database}/tables/", params={"q": "(schema_name:iox)"})
    )["result"]
    assert [table["value"] for table in tables] == ["cpu"]

    # SQL Lab.
    sql = "SELECT host, usage, time FROM cpu ORDER BY time"
    lab = _ok(
        api.post(
            f"{superset}/api/v1/sqllab/execute/",
            json={"database_id": database, "sql": sql, "schema": "iox", "runAsync": False},
        )
    )
    assert lab["status"] == "success"
    expected = server_rows(iox_url, sql)
    assert [(row["host"], row["usage"], row["time"]) for row in lab["data"]] == [
        (host, usage, when.isoformat()) for host, usage, when in expected
    ]
    types = {column["name"]: (column["type"], column["is_dttm"]) for column in lab["columns"]}
    assert types == {
        "host": ("VARCHAR", False),
        "usage": ("DOUBLE", False),
        "time": ("TIMESTAMP", True),
    }

    # A dataset on the table: reflection gives time as its datetime column.
    dataset = _ok(
        api.post(
            f"{superset}/api/v1/dataset/",
            json={"database": database, "schema": "iox", "table_name": "cpu"},
        ),
        201,
    )["id"]
    described = _ok(api.get(f"{superset}/api/v1/dataset/{dataset}"))["result"]
    assert described["main_dttm_col"] == "time"
    dttm = {column["column_name"] for column in described["columns"] if column["is_dttm"]}
    assert dttm == {"time"}
    explore = _ok(
        api.get(
            f"{superset}/api/v1/explore/",
            params={"datasource_id": dataset, "datasource_type": "table"},
        )
    )
    grains = {grain for grain, _name in explore["result"]["dataset"]["time_grain_sqla"]}
    assert {"PT1M", "PT5M", "P1D", "P1W", "1969-12-28T00:00:00Z/P1W", "P1Y"} <= grains

    # A saved time-series chart, one-minute grain; its data through the chart-data API.
    axis = {
        "columnType": "BASE_AXIS",
        "expressionType": "SQL",
        "sqlExpression": "time",
        "label": "time",
        "timeGrain": "PT1M",
    }
    query = {
        "columns": [axis],
        "metrics": [SUM_USAGE],
        "orderby": [[SUM_USAGE, True]],
        "time_range": "No filter",
        "row_limit": 1000,
    }
    context = {
        "datasource": {"id": dataset, "type": "table"},
        "force": True,
        "queries": [query],
        "result_format": "json",
        "result_type": "full",
    }
    params = {
        "viz_type": "echarts_timeseries_line",
        "datasource": f"{dataset}__table",
        "x_axis": "time",
        "time_grain_sqla": "PT1M",
        "metrics": [SUM_USAGE],
        "groupby": [],
        "time_range": "No filter",
        "row_limit": 1000,
    }
    chart = _ok(
        api.post(
            f"{superset}/api/v1/chart/",
            json={
                "slice_name": "usage per minute",
                "viz_type": "echarts_timeseries_line",
                "datasource_id": dataset,
                "datasource_type": "table",
                "params": json.dumps(params),
                "query_context": json.dumps(context),
            },
        ),
        201,
    )["id"]
    result = _ok(api.get(f"{superset}/api/v1/chart/{chart}/data/", params={"force": "true"}))
    data = result["result"][0]["data"]
    per_minute = server_rows(
        iox_url,
        "SELECT date_trunc('minute', time) AS minute, sum(usage) FROM cpu GROUP BY 1 ORDER BY 2",
    )
    assert per_minute == [
        (EPOCH + timedelta(minutes=1), 2.5),
        (EPOCH, 11.5),
        (EPOCH + timedelta(minutes=2), 20.0),
    ]
    assert [(row["time"], row["SUM(usage)"]) for row in data] == [
        (_ms(minute), total) for minute, total in per_minute
    ]

    # The legacy form: a __timestamp column, a five-minute grain and a time filter.
    legacy = {
        "datasource": {"id": dataset, "type": "table"},
        "force": True,
        "queries": [
            {
                "is_timeseries": True,
                "granularity": "time",
                "extras": {"time_grain_sqla": "PT5M"},
                "columns": [],
                "metrics": [SUM_USAGE],
                "time_range": "1970-01-01T00:00:00 : 1970-01-01T00:02:00",
                "row_limit": 1000,
            }
        ],
        "result_format": "json",
        "result_type": "full",
    }
    answer = _ok(api.post(f"{superset}/api/v1/chart/data", json=legacy))["result"][0]
    assert answer["colnames"] == ["__timestamp", "SUM(usage)"]
    filtered = server_rows(
        iox_url,
        "SELECT date_bin(INTERVAL '5 minutes', time), sum(usage) FROM cpu "
        "WHERE time >= '1970-01-01T00:00:00' AND time < '1970-01-01T00:02:00' GROUP BY 1",
    )
    assert filtered == [(EPOCH, 14.0)]
    assert [(row["__timestamp"], row["SUM(usage)"]) for row in answer["data"]] == [
        (_ms(bucket), total) for bucket, total in filtered
    ]

    # A CSV upload: Superset's pandas to_sql, through the dialect on SQLAlchemy 1.4.
    csv = "time,sensor,value\n2024-01-01 00:00:00,x,1.5\n2024-01-01 00:01:00,y,2.5\n"
    upload = {
        "type": "csv",
        "table_name": "uploaded",
        "schema": "iox",
        "already_exists": "fail",
        "column_dates": "time",
    }
    _ok(
        api.post(
            f"{superset}/api/v1/database/{database}/upload/",
            files={"file": ("readings.csv", csv, "text/csv")},
            data=upload,
        ),
        201,
    )
    assert server_rows(iox_url, "SELECT time, sensor, value FROM uploaded ORDER BY time") == [
        (datetime(2024, 1, 1), "x", 1.5),
        (datetime(2024, 1, 1, 0, 1), "y", 2.5),
    ]
