"""An external PyIceberg reader scans a persisted table quietly (no warning per tag column).

The reader is a separate Python process that imports nothing of flight-iox: it loads the
catalog from ``flight-iox catalog``'s properties, as docs/external-engines.md shows, with
every warning shown and logging at its default (warnings reach stderr).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import requests

from flight_iox.launcher import start_server

READER = """
import json, logging, sys, warnings
warnings.simplefilter("always")
logging.basicConfig(level=logging.INFO)
from pyiceberg.catalog import load_catalog

props = json.loads(sys.argv[1])
table = load_catalog(props.pop("name"), **props).load_table(("ext", "w"))
for _ in range(2):  # every scan, not only the first
    arrow = table.scan().to_arrow()
print(json.dumps({"rows": arrow.num_rows, "city": str(arrow.schema.field("city").type)}))
"""


def test_pyiceberg_scan_logs_nothing_about_dictionaries(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        lines = "\n".join(
            f"w,city=c{i % 3},region=r{i % 2},site=s{i % 5} temp={i}.5 {i}" for i in range(30)
        )
        params = {"db": "ext"}
        requests.post(f"{server.http_url}/api/v3/write_lp", params=params, data=lines, timeout=30)
        requests.post(f"{server.http_url}/api/v3/persist", timeout=60).raise_for_status()
        printed = subprocess.run(
            [sys.executable, "-m", "flight_iox", "catalog", "--host", server.http_url],
            capture_output=True,
            check=True,
            timeout=60,
        )
        reader = subprocess.run(
            [sys.executable, "-c", READER, printed.stdout.decode()],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,  # nothing of the checkout on the path but what is installed
        )
        assert reader.returncode == 0, reader.stderr
        assert "dictionary" not in reader.stderr.lower(), reader.stderr
        scanned = json.loads(reader.stdout)
        assert scanned["rows"] == 30
        assert scanned["city"] in ("string", "large_string")  # as the Iceberg schema says
    finally:
        server.stop()
