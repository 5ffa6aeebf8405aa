"""The docs name what the code has: routes, Flight SQL commands, files and tests.

Each test reads a page of ``docs/`` and compares what it states with the code, so a
route, command or file renamed or added without its page fails here, not in a reader's
hands. (``tests/unit/cli/test_settings_options.py`` does the same for the settings.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.routing import Route

from flight_iox.app import build_app
from flight_iox.config import Settings
from flight_iox.flightsql.server import ACTION_HANDLERS, COMMAND_HANDLERS
from flight_iox.http.app import create_app
from flight_iox.server import http_services

ROOT = Path(__file__).resolve().parents[2]
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
METHODS = "GET|POST|PUT|PATCH|DELETE|HEAD"
# `GET|POST /api/v3/query_sql?db=...`: methods, then the path up to its query or a space.
ROUTE = re.compile(rf"`((?:{METHODS})(?:\|(?:{METHODS}))*) (/[^`?\s\[]*)")
# A repository path in backquotes: `flight_iox/query/engine.py`, `tests/e2e/`, ...
REPO_PATH = re.compile(r"`((?:flight_iox|catalog|clients|tests|bench|docs|\.ci)/[\w./{},-]*)`")
TEST_NAME = re.compile(r"`([\w/.-]+\.py)::(\w+)`")


def _name(page: Path) -> str:
    return page.name


def _documented_routes(page: Path) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for methods, path in ROUTE.findall(page.read_text()):
        routes.setdefault(path, set()).update(methods.split("|"))
    return routes


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Each route of the app and its methods (Starlette adds HEAD to every GET route)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("docs") / "data", wal_fsync=False)
    app = build_app(settings)
    try:
        http_app = create_app(http_services(app), settings)
    finally:
        app.close()
    return {r.path: set(r.methods or ()) for r in http_app.routes if isinstance(r, Route)}


def test_http_api_lists_every_route_with_its_methods(served: dict[str, set[str]]) -> None:
    documented = _documented_routes(ROOT / "docs" / "http-api.md")
    assert sorted(documented) == sorted(served)
    for path, methods in documented.items():
        assert methods <= served[path], f"{path}: documented {methods}, served {served[path]}"
        assert served[path] - {"HEAD"} <= methods, f"{path}: {served[path]} not all documented"


@pytest.mark.parametrize("page", [p for p in PAGES if p.name != "http-api.md"], ids=_name)
def test_routes_named_on_other_pages_are_served(page: Path, served: dict[str, set[str]]) -> None:
    documented = _documented_routes(page)
    for path, methods in documented.items():
        assert path in served, f"{page.name} names {path}, which is not served"
        assert methods <= served[path], f"{page.name}: {path} {methods} vs {served[path]}"


def _supported_row(rpc: str) -> set[str]:
    """The backquoted names in the row of ``rpc`` of flight-sql.md's "Supported" table."""
    text = (ROOT / "docs" / "flight-sql.md").read_text()
    section = text.split("## Supported\n\n", 1)[1].split("\n\n", 1)[0]
    row = next(line for line in section.splitlines() if line.startswith(f"| {rpc} "))
    return set(re.findall(r"`(\w+)`", row))


@pytest.mark.parametrize(
    ("rpc", "hook"),
    [("GetFlightInfo, GetSchema", "flight_info"), ("DoGet", "do_get"), ("DoPut", "do_put")],
)
def test_flight_sql_lists_exactly_the_commands_served(rpc: str, hook: str) -> None:
    served = {h.message.DESCRIPTOR.name for h in COMMAND_HANDLERS if getattr(h, hook)}
    documented = _supported_row(rpc)
    if rpc == "DoGet":  # "the metadata commands above (their ticket is the command)"
        documented |= {n for n in _supported_row("GetFlightInfo, GetSchema") if "Get" in n}
    assert documented == served


def test_flight_sql_lists_exactly_the_actions_served() -> None:
    assert _supported_row("DoAction") == set(ACTION_HANDLERS)


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_files_and_tests_named_exist(page: Path) -> None:
    text = page.read_text()
    missing = []
    for path in REPO_PATH.findall(text):
        braces = re.search(r"\{([^}]*)\}", path)  # tests/e2e/test_persistence_{s3,crash}.py
        options = [path]
        if braces:
            head, tail = path[: braces.start()], path[braces.end() :]
            options = [head + part + tail for part in braces.group(1).split(",")]
        missing += [p for p in options if not (ROOT / p).exists()]
    for path, name in TEST_NAME.findall(text):
        source = ROOT / path
        if not source.exists() or not re.search(rf"def {name}\b", source.read_text()):
            missing.append(f"{path}::{name}")
    assert not missing, f"{page.name} names what does not exist: {missing}"


def test_readme_links_every_page() -> None:
    linked = set(re.findall(r"\(docs/([\w-]+\.md)\)", (ROOT / "README.md").read_text()))
    assert linked == {page.name for page in (ROOT / "docs").glob("*.md")}


BENCH_COMMAND = re.compile(
    r"python (?:-m )?(bench[./]\w+)(?:\.py)?((?: --?[\w-]+(?: [^\s`|-][^\s`|]*)?)*)"
)


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_bench_commands_name_real_scripts_and_flags(page: Path) -> None:
    """Every ``python bench/x.py --flag`` a page shows runs a script that takes that flag."""
    wrong = []
    for script, args in BENCH_COMMAND.findall(page.read_text()):
        source = ROOT / (script.replace(".", "/") + ".py")
        if not source.exists():
            wrong.append(script)
            continue
        text = source.read_text()
        wrong += [f"{script} {f}" for f in re.findall(r" (--[\w-]+)", args) if f'"{f}"' not in text]
    assert not wrong, f"{page.name} shows bench commands that do not run: {wrong}"
