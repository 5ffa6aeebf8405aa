"""Shared fixtures: where ../shared is, TSBS data generated from it, a database name per test."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with a message when it is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not here (../shared beside the checkout is needed)")
    return path


def generate_tsbs(out: Path, hosts: int, hours: int, seed: int = 42) -> Path:
    """Write TSBS cpu-only line protocol with ../shared/tsbs/gen_cpu.py."""
    script = shared_path("tsbs", "gen_cpu.py")
    subprocess.run(
        [
            sys.executable,
            str(script),
            "--hosts",
            str(hosts),
            "--hours",
            str(hours),
            "--start",
            "2016-01-01T00:00:00Z",
            "--seed",
            str(seed),
            "--out",
            str(out),
        ],
        check=True,
    )
    return out


_DATABASE_NUMBERS = itertools.count()


@pytest.fixture
def db_name(request: pytest.FixtureRequest) -> str:
    """A database name no other test of this session uses (valid: letters, digits, ``_``).

    Tests that share a server (one per module, package or session) each write into their
    own database, so they pass in any order and in any subset.
    """
    stem = re.sub(r"[^A-Za-z0-9_]+", "_", request.node.name).strip("_")[:48] or "t"
    return f"{stem}_{next(_DATABASE_NUMBERS)}"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reverse",
        action="store_true",
        help="run the collected tests in reverse order (shows no test needs the ones before it)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--reverse"):
        items.reverse()
