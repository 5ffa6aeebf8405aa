"""The client packages work with the oldest versions they declare, SQLAlchemy 1.4 included.

A venv of its own gets exactly the lower bound of every dependency the two clients'
``pyproject.toml`` files declare (``pyarrow>=14.0.1`` installs ``pyarrow==14.0.1``), from the
package index, plus both wheels; ``probe_clients.py`` then reflects, queries, creates, ingests
and drops through the dialect and the driver against a real server. The same probe runs here,
on this environment's current versions, and both must see the same answers. Skipped, with
pip's words, when the index cannot be reached.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from flight_iox.launcher import RunningServer

from .conftest import CPU_LINES, write_lp
from .dists import (
    CLIENTS,
    DIALECT,
    DRIVER,
    OFFLINE,
    build_wheel,
    built_requirements,
    check_install,
    lower_bound,
)

PROBE = Path(__file__).with_name("probe_clients.py")
DATABASE = "lower_bounds"
# pyarrow before 16 is built against NumPy 1 and fails to import under NumPy 2, which its
# metadata does not say; a user of such a pyarrow has NumPy 1 too.
NUMPY_FOR_OLD_PYARROW = "numpy<2"


def lower_bounds(tmp_path: Path) -> dict[str, str]:
    """``name==oldest`` for every third-party dependency the two clients declare."""
    pins: dict[str, str] = {}
    for package in (DRIVER, DIALECT):
        for name, requirement in built_requirements(package, tmp_path / package).items():
            if name == "adbc-driver-flight-iox":  # the driver itself, installed as a wheel
                continue
            oldest = lower_bound(requirement)
            assert oldest, f"{package} declares no lower bound: {requirement}"
            assert pins.get(name, oldest) == oldest, f"{name}: two lower bounds"
            pins[name] = oldest
    return pins


def run_probe(python: str | Path, url: str, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [python, str(PROBE), url], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_oldest_declared_versions_with_sqlalchemy_1_4(
    tmp_path: Path, server: RunningServer
) -> None:
    pins = lower_bounds(tmp_path / "meta")
    assert pins["sqlalchemy"].startswith("1.4")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *(f"{name}=={version}" for name, version in sorted(pins.items())),
            NUMPY_FOR_OLD_PYARROW,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    check_install(install, "the lower bounds together")
    wheels = [build_wheel(package, tmp_path) for package in (DRIVER, DIALECT)]
    subprocess.run([python, "-m", "pip", "install", *OFFLINE, *map(str, wheels)], check=True)
    subprocess.run([python, "-m", "pip", "check"], check=True, capture_output=True)

    write_lp(server, DATABASE, CPU_LINES)
    url = f"flight_iox://{server.flight_uri.split('://', 1)[1]}/{DATABASE}"
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    oldest = run_probe(python, url, {**env, "SQLALCHEMY_SILENCE_UBER_WARNING": "1"})
    current = run_probe(sys.executable, url, {**os.environ, "PYTHONPATH": str(CLIENTS)})

    assert {name: Version(oldest.pop(name)) for name in pins} == {
        name: Version(version) for name, version in pins.items()
    }
    for name in pins:
        current.pop(name)
    assert oldest == current
    assert oldest["count"] == 4
    assert oldest["usage_of_b"] == [10.0, 20.0]
    assert oldest["per_minute"] == [
        ["1970-01-01 00:00:00", 11.5],
        ["1970-01-01 00:01:00", 2.5],
        ["1970-01-01 00:02:00", 20.0],
    ]
    assert oldest["ingested"] == [["x", 1.5], ["y", 2.5]]
