"""The client packages are distributions of their own that bring nothing of the server.

The cheap checks (default suite) read each client's declared dependencies from metadata built
by its own ``pyproject.toml`` and import the packages in a fresh interpreter, looking at
``sys.modules``. The slow check installs both wheels into an empty venv (``--no-deps``), adds
only the distributions their declared dependencies resolve to in this environment, and runs a
query through the dialect against a real server.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flight_iox import columns
from flight_iox.launcher import RunningServer
from sqlalchemy_flight_iox import reflection

from .dists import (
    CLIENTS,
    DIALECT,
    DRIVER,
    OFFLINE,
    PIP,
    build_wheel,
    built_requirements,
    requirement_name,
)

# What a client must never pull in: the server and its heavy dependencies.
SERVER_MODULES = ("flight_iox", "iox_catalog", "datafusion", "pyiceberg", "uvicorn", "psycopg")
SERVER_DISTRIBUTIONS = {"flight-iox", "datafusion", "pyiceberg", "uvicorn", "psycopg", "starlette"}


def test_driver_depends_on_the_flight_sql_driver_and_pyarrow_only(tmp_path: Path) -> None:
    assert set(built_requirements(DRIVER, tmp_path)) == {
        "adbc-driver-flightsql",
        "adbc-driver-manager",
        "pyarrow",
    }


def test_dialect_depends_on_sqlalchemy_and_the_driver_only(tmp_path: Path) -> None:
    requirements = built_requirements(DIALECT, tmp_path)
    assert set(requirements) == {"adbc-driver-flight-iox", "pyarrow", "sqlalchemy"}
    assert not set(requirements) & SERVER_DISTRIBUTIONS


def test_importing_the_clients_loads_nothing_of_the_server() -> None:
    """Import, make an engine, compile a query and load the DB-API in a fresh interpreter."""
    script = textwrap.dedent(
        """
        import json, sys
        import sqlalchemy as sa
        import adbc_driver_flight_iox
        import sqlalchemy_flight_iox
        engine = sa.create_engine("flight_iox://127.0.0.1:1/db")
        str(sa.select(sa.table("cpu", sa.column("index"))).compile(engine))
        engine.dialect.loaded_dbapi
        print(json.dumps(sorted(sys.modules)))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(CLIENTS)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(done.stdout))
    assert {DRIVER, DIALECT} <= loaded
    leaked = {name for name in loaded if name.split(".")[0] in SERVER_MODULES}
    assert not leaked


def test_data_model_constants_agree_with_the_server() -> None:
    """The dialect writes the server's column constants again instead of importing them."""
    assert reflection.TIME_COLUMN == columns.TIME_COLUMN
    assert reflection.ROLE_KEY == columns.ROLE_KEY
    assert columns.ColumnRole.TAG.value.encode() == reflection.TAG_ROLE


# --- the slow check: both wheels alone in an empty venv ------------------------------------


def _closure(requirements: list[str]) -> set[str]:
    """The installed distributions these requirements need, transitively (extras left out)."""
    seen: set[str] = set()
    todo = [r for r in requirements if "extra ==" not in r]
    while todo:
        name = requirement_name(todo.pop())
        if name in seen or name in {"adbc-driver-flight-iox"}:
            continue
        seen.add(name)
        todo += [r for r in importlib.metadata.requires(name) or () if "extra ==" not in r]
    return seen


def _link_distribution(name: str, site_packages: Path) -> None:
    """Make one installed distribution (its files and dist-info) visible in another venv."""
    dist = importlib.metadata.distribution(name)
    root = Path(str(dist.locate_file("")))
    for file in dist.files or ():
        if file.parts[0] == "..":  # scripts outside site-packages
            continue
        target = site_packages / file
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to(root / file)


@pytest.mark.slow
def test_dialect_installed_alone_queries_a_server(
    tmp_path: Path, server: RunningServer, database: str
) -> None:
    wheels = [build_wheel(DRIVER, tmp_path), build_wheel(DIALECT, tmp_path)]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [*PIP, "--python", str(python)]
    subprocess.run([*pip, "install", *OFFLINE, *wheels], check=True)
    site_packages = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    declared = [
        *built_requirements(DRIVER, tmp_path / "d").values(),
        *built_requirements(DIALECT, tmp_path / "s").values(),
    ]
    needed = _closure(declared)
    assert not needed & SERVER_DISTRIBUTIONS
    for name in needed:
        _link_distribution(name, site_packages)
    # Every declared requirement of every installed distribution is met.
    subprocess.run([*pip, "check"], check=True, capture_output=True)

    host_port = server.flight_uri.split("://", 1)[1]
    script = textwrap.dedent(
        f"""
        import importlib.util, json
        import sqlalchemy as sa
        engine = sa.create_engine("flight_iox://{host_port}/{database}")
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT count(*) FROM cpu")).scalar_one()
        absent = [m for m in {SERVER_MODULES!r} if importlib.util.find_spec(m) is None]
        print(json.dumps({{"rows": rows, "absent": absent}}))
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    done = subprocess.run(
        [python, "-I", "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == {"rows": 4, "absent": list(SERVER_MODULES)}
