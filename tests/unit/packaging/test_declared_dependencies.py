"""Every third-party import is a declared dependency, of the right kind.

The README's first command installs the package with no extras, so an import of the
shipped packages that only the ``[test]`` extra satisfies (numpy once) breaks
``flight-iox serve`` on a fresh machine; a test importing a package missing from
``[test]`` (hypothesis once) breaks the second command. This scans the source with
``ast`` (every import, also those inside functions) and maps each top-level module to
the distribution that provides it.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ("flight_iox", "catalog", "clients")  # the packages of the wheel
# Which requirement lists may satisfy the imports of each part of the repository.
SCOPES = {
    SHIPPED: ("dependencies",),
    ("tests",): ("dependencies", "test"),
    ("bench",): ("dependencies", "test", "bench"),
}
# Tools run by hand, never by the server, the clients or the default suite: the extra each
# of their imports may come from.
OWN_EXTRA = {
    ("flight_iox/flightsql/generate.py", "grpc_tools"): "test",  # regenerates protobuf code
    ("clients/sqlalchemy_flight_iox/requirements.py", "pytest"): "test",  # SQLAlchemy's suite
    ("tests/fuzz/atheris_parsers.py", "atheris"): "fuzz",  # coverage-guided fuzzing
    ("flight_iox/cluster_demo.py", "moto"): "test",  # a local cluster on a moto S3 server
}
# Modules that only an application imports, through its entry point, into its own environment:
# the import is that application's own package, never a dependency of ours.
LOADED_BY_HOST = {
    # Superset's engine spec, loaded through the superset.db_engine_specs entry point.
    ("clients/sqlalchemy_flight_iox/db_engine_spec.py", "superset"),
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


def local_modules() -> set[str]:
    """Top-level names that are this repository's own code (packages, test helpers, scripts)."""
    names = set()
    for roots in SCOPES:
        for root in roots:
            for path in (ROOT / root).rglob("*.py"):  # not ROOT: a virtualenv may live there
                names.add(path.stem)
                names.update(path.relative_to(ROOT).parts[:-1])
    return names


def third_party_imports(roots: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(file relative to the repo, top-level module) for each absolute import under ``roots``."""
    local = local_modules()
    for root in roots:
        for path in sorted((ROOT / root).rglob("*.py")):
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
                    if top not in sys.stdlib_module_names and top not in local:
                        yield path.relative_to(ROOT).as_posix(), top


@pytest.mark.parametrize("roots", list(SCOPES), ids=lambda roots: roots[0])
def test_every_import_is_declared(roots: tuple[str, ...]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lists = {"dependencies": project["dependencies"], **project["optional-dependencies"]}
    allowed = set().union(*(requirement_names(lists[name]) for name in SCOPES[roots]))
    providers = packages_distributions()
    missing = []
    for file, module in sorted(set(third_party_imports(roots)) - LOADED_BY_HOST):
        extra = OWN_EXTRA.get((file, module))
        declared = allowed | requirement_names(lists[extra]) if extra else allowed
        # Not installed here (an optional extra such as bench): its distribution's usual name.
        distributions = {canonical(d) for d in providers.get(module, [module])}
        if not distributions & declared:
            wanted = ", ".join(sorted(distributions))
            missing.append(f"{file}: imports {module} from {wanted}, not declared for it")
    assert not missing, "\n".join(missing)


def test_scan_sees_known_imports() -> None:
    """The scan itself works: it finds imports that are known to be there."""
    found = set(third_party_imports(SHIPPED))
    assert ("flight_iox/server.py", "uvicorn") in found
    assert any(module == "numpy" for _, module in found)
    in_tests = set(third_party_imports(("tests",)))
    assert any(module == "pytest" for _, module in in_tests)
    assert found | in_tests >= set(OWN_EXTRA) | LOADED_BY_HOST
