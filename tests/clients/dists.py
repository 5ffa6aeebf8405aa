"""Building the client distributions from their own ``pyproject.toml``, for tests that install them.

Each client is built from a copy of its folder, so nothing (``build/``, ``*.egg-info``) is
left in the tree. Used by the distribution checks, the lower-bound venv and the Superset venv.
"""

from __future__ import annotations

import email.parser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CLIENTS = Path(__file__).resolve().parents[2] / "clients"
DRIVER = "adbc_driver_flight_iox"
DIALECT = "sqlalchemy_flight_iox"
PIP = [sys.executable, "-m", "pip"]
OFFLINE = ["--no-deps", "--no-index", "--quiet"]
# What pip says when the package index cannot be reached (no network): skip, do not fail.
UNREACHABLE = (
    "NewConnectionError",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "No matching distribution found",
)


def copy_client(package: str, into: Path) -> Path:
    """A copy of a client's folder, so building leaves no build/ or egg-info in the tree."""
    target = into / package
    shutil.copytree(CLIENTS / package, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def built_requirements(package: str, tmp_path: Path) -> dict[str, str]:
    """Requires-Dist of a client's metadata, built through its PEP 517 backend, by name."""
    source = copy_client(package, tmp_path)
    out = tmp_path / "metadata"
    out.mkdir()
    build = (
        "import sys, setuptools.build_meta as b; "
        "print(b.prepare_metadata_for_build_wheel(sys.argv[1]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", build, str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        check=True,
    )
    dist_info = out / done.stdout.strip().splitlines()[-1]
    metadata = email.parser.Parser().parsestr((dist_info / "METADATA").read_text())
    requirements = metadata.get_all("Requires-Dist") or []
    return {requirement_name(requirement): requirement for requirement in requirements}


def requirement_name(requirement: str) -> str:
    """The normalized distribution name a requirement names (``adbc-driver-manager``)."""
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return re.sub(r"[._-]+", "-", match.group(0)).lower()


def lower_bound(requirement: str) -> str | None:
    """The version a ``name>=X`` requirement starts at (None when it has no ``>=``)."""
    match = re.search(r">=\s*([0-9][0-9A-Za-z.]*)", requirement)
    return match.group(1) if match else None


def build_wheel(package: str, tmp_path: Path) -> Path:
    """A wheel of one client, built offline with this environment's setuptools."""
    source = copy_client(package, tmp_path / "src")
    out = tmp_path / "wheels"
    subprocess.run(
        [*PIP, "wheel", *OFFLINE, "--no-build-isolation", "--wheel-dir", str(out), str(source)],
        check=True,
    )
    return next(out.glob(f"{package}-*.whl"))


def check_install(done: subprocess.CompletedProcess[str], what: str) -> None:
    """Pass a pip install; skip when the index is out of reach, fail with pip's words else."""
    if done.returncode == 0:
        return
    if any(word in done.stderr for word in UNREACHABLE):
        pytest.skip(f"the package index is out of reach: {done.stderr[-500:]}")
    pytest.fail(f"installing {what} failed:\n{done.stderr[-3000:]}")
