"""The package import graph has no cycle, and docs/architecture.md draws it as it is.

A node is a subpackage or top-level module of ``flight_iox`` (``flight_iox.query``,
``flight_iox.config``), or ``iox_catalog`` / ``iox_datamodel``. Every import counts: at
module level, inside functions (the CLI's lazy imports) and under ``TYPE_CHECKING``,
since a dependency only the type checker sees is still a dependency of the design.
The diagram in docs/architecture.md must have exactly the edges between its nodes
that the code has, and every node it leaves out must be a leaf (import none of the
drawn ones), so the page cannot drift from the code. Read with ``ast``; nothing is
imported, so this runs in well under a second.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {
    "flight_iox": REPO / "flight_iox",
    "iox_catalog": REPO / "catalog" / "iox_catalog",
    "iox_datamodel": REPO / "catalog" / "iox_datamodel",
}
DOC = REPO / "docs" / "architecture.md"
Graph = dict[str, set[str]]


def _imports(path: Path) -> Iterator[str]:
    """Every absolute module ``path`` imports (``from flight_iox import x``: ``flight_iox.x``)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _node(module: str) -> str | None:
    """The graph node a module belongs to (None: not one of ours, or not a module)."""
    parts = module.split(".")
    if parts[0] not in PACKAGES:
        return None
    if parts[0] != "flight_iox":
        return parts[0]
    if len(parts) == 1:
        return "flight_iox"
    root = PACKAGES["flight_iox"]
    is_module = (root / parts[1]).is_dir() or (root / f"{parts[1]}.py").is_file()
    return f"flight_iox.{parts[1]}" if is_module else "flight_iox"


def import_graph() -> Graph:
    """Node -> the nodes it imports (itself left out)."""
    graph: Graph = {}
    for folder in PACKAGES.values():
        for path in folder.rglob("*.py"):
            relative = path.relative_to(folder.parent).with_suffix("")
            source = _node(".".join(relative.parts).removesuffix(".__init__"))
            assert source is not None, path
            targets = graph.setdefault(source, set())
            for module in _imports(path):
                target = _node(module)
                if target is not None and target != source:
                    targets.add(target)
    return graph


def _cycle(graph: Graph) -> list[str] | None:
    """One cycle of ``graph`` as a path of nodes, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _short(node: str) -> str:
    return node.removeprefix("flight_iox.")


def _diagram() -> tuple[Graph, set[str]]:
    """The mermaid graph of docs/architecture.md (short names) and the leaves it lists."""
    text = DOC.read_text()
    block = re.search(r"```mermaid\n(graph TD\n.*?)```", text, re.S)
    assert block is not None, "docs/architecture.md has no mermaid import graph"
    drawn: Graph = {}
    for line in block.group(1).splitlines()[1:]:
        line = line.strip()
        if not line or line.startswith("%%"):
            continue
        edge = re.fullmatch(r"(\S+) --> (\S+)", line)
        assert edge is not None, f"unreadable diagram line: {line!r}"
        drawn.setdefault(edge[1], set()).add(edge[2])
        drawn.setdefault(edge[2], set())
    leaves = re.search(r"^Leaves \(import no drawn node\): (.+)\.$", text, re.M)
    assert leaves is not None, "docs/architecture.md does not list the leaves"
    return drawn, set(re.findall(r"`([^`]+)`", leaves[1]))


def test_no_package_cycle() -> None:
    assert _cycle(import_graph()) is None


def test_clients_do_not_import_the_server() -> None:
    found = {
        (str(path.relative_to(REPO)), module)
        for path in (REPO / "clients").rglob("*.py")
        for module in _imports(path)
        if module.split(".")[0] in PACKAGES
    }
    assert found == set()


def test_the_diagram_is_the_import_graph() -> None:
    graph = {_short(n): {_short(t) for t in targets} for n, targets in import_graph().items()}
    drawn, leaves = _diagram()
    assert set(drawn) <= set(graph), "the diagram names a module that does not exist"
    actual = {n: graph[n] & set(drawn) for n in drawn}
    missing = sorted((n, t) for n in drawn for t in actual[n] - drawn[n])
    extra = sorted((n, t) for n in drawn for t in drawn[n] - actual[n])
    assert (missing, extra) == ([], []), "(imports not drawn, arrows not imported)"
    undrawn = set(graph) - set(drawn)
    assert (sorted(undrawn - leaves), sorted(leaves - undrawn)) == ([], []), (
        "(modules neither drawn nor listed as leaves, listed leaves that are not modules)"
    )
    for leaf in leaves:
        assert not graph[leaf] & set(drawn), f"{leaf} is listed as a leaf but imports {graph[leaf]}"


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
