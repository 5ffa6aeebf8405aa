"""The import graph keeps its layers: the catalog never imports the server.

``iox_datamodel`` is the leaf both build on (only the standard library and pyarrow),
and ``iox_catalog`` builds on it, never on ``flight_iox``: that import was a package
cycle. Every import is read with ``ast``, also those inside functions.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

CATALOG = Path(__file__).resolve().parents[3] / "catalog"


def imported_packages(package: Path) -> Iterator[tuple[str, str]]:
    """(file, top-level package) for every absolute import in a package's modules."""
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                yield path.name, name.partition(".")[0]


@pytest.mark.parametrize(
    ("package", "allowed_first_party"),
    [("iox_catalog", {"iox_catalog", "iox_datamodel"}), ("iox_datamodel", {"iox_datamodel"})],
)
def test_catalog_packages_do_not_import_the_server(
    package: str, allowed_first_party: set[str]
) -> None:
    first_party = {"flight_iox", "iox_catalog", "iox_datamodel"}
    found = {
        (name, top)
        for name, top in imported_packages(CATALOG / package)
        if top in first_party - allowed_first_party
    }
    assert found == set()


def test_the_data_model_leaf_needs_only_pyarrow() -> None:
    imported = {top for _, top in imported_packages(CATALOG / "iox_datamodel")}
    assert imported - set(sys.stdlib_module_names) <= {"__future__", "pyarrow", "iox_datamodel"}
