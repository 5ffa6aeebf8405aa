"""Shared fixtures: where ../shared is, and TSBS data generated from it."""

from __future__ import annotations

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
