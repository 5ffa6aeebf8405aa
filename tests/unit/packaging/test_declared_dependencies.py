"""Every third-party import of the shipped packages is a declared dependency.

The README's first command installs the package with no extras, so an import that only
the ``[test]`` extra satisfies (numpy once) breaks ``flight-iox serve`` on a fresh
machine. This scans the source with ``ast`` (every import, also those inside
functions) and maps each top-level module to the distribution that provides it.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SOURCES = [ROOT / "flight_iox", ROOT / "catalog" / "iox_catalog", ROOT / "clients"]
FIRST_PARTY = {"flight_iox", "iox_catalog", "adbc_driver_flight_iox", "sqlalchemy_flight_iox"}
# Tools run by developers, never by the server or the clients: these may use the test extra.
DEVELOPMENT_ONLY = {
    ("flight_iox/flightsql/generate.py", "grpc_tools"),  # regenerates the committed protobuf code
    ("clients/sqlalchemy_flight_iox/requirements.py", "pytest"),  # SQLAlchemy's suite hooks
}


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(requirements: list[str]) -> set[str]:
    """``pyiceberg[sql-sqlite]>=0.12`` -> ``pyiceberg``."""
    names = set()
    for requirement in requirements:
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        assert match, requirement
        names.add(canonical(match.group(0)))
    return names


def third_party_imports() -> Iterator[tuple[str, str]]:
    """(file relative to the repo, top-level module) for each absolute import."""
    for source in SOURCES:
        for path in sorted(source.rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.partition(".")[0]
                    if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                        yield path.relative_to(ROOT).as_posix(), top


def test_every_import_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = requirement_names(project["dependencies"])
    test_extra = runtime | requirement_names(project["optional-dependencies"]["test"])
    providers = packages_distributions()
    missing = []
    for file, module in sorted(set(third_party_imports())):
        declared = test_extra if (file, module) in DEVELOPMENT_ONLY else runtime
        distributions = {canonical(d) for d in providers.get(module, [])}
        if not distributions:
            missing.append(f"{file}: imports {module}, which no installed distribution provides")
        elif not distributions & declared:
            wanted = ", ".join(sorted(distributions))
            missing.append(f"{file}: imports {module} from {wanted}, not a declared dependency")
    assert not missing, "\n".join(missing)


def test_scan_sees_known_imports() -> None:
    """The scan itself works: it finds imports that are known to be there."""
    found = set(third_party_imports())
    assert ("flight_iox/server.py", "uvicorn") in found
    assert any(module == "numpy" for _, module in found)
    assert found >= DEVELOPMENT_ONLY
