"""Shared fixtures: where ../shared is, TSBS data generated from it, a database name per test."""

from __future__ import annotations

import gc
import itertools
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Write the compiled files even where PYTHONDONTWRITEBYTECODE is set (this machine sets it):
# each xdist worker then reads the test modules pytest rewrote and the modules of flight_iox
# from __pycache__ instead of rewriting and compiling them again (about half the CPU of a
# worker's collection), and so do the zygotes and every fresh interpreter a test starts,
# which still read them with the variable set. __pycache__ is in .gitignore.
sys.dont_write_bytecode = False

from flight_iox import launcher  # noqa: E402

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


def shared_scope(item: pytest.Item) -> str | None:
    """Where the widest module-, class- or package-scoped fixture of a test lives, if any.

    Those fixtures (a server per module, one for tests/clients) are what a group of tests
    shares; session-scoped ones are started once per worker anyway.
    """
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    scopes = {fixture.scope: fixture for defs in info.name2fixturedefs.values() for fixture in defs}
    if "package" in scopes:
        return scopes["package"].baseid or item.nodeid.split("::")[0]
    if "module" in scopes or "class" in scopes:
        return item.nodeid.split("::")[0]
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--reverse``; and, for ``--dist loadgroup``, one xdist group per shared fixture.

    A test that shares a module- or package-scoped fixture (a server) runs on the same worker
    as the others that share it, so the server starts once; every other test goes to
    whichever worker is free, which keeps the two workers busy until the end.
    """
    if config.getoption("--reverse"):
        items.reverse()
    for item in items:
        group = shared_scope(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


class _GroupIds:
    """In an xdist worker, name each grouped test ``nodeid@group``, as ``--dist loadgroup`` needs.

    The controller groups tests by that suffix of the ids the workers report. xdist adds it by
    setting ``item._nodeid``, which pytest 9.2 no longer reads (the id is ``item._id``), so
    without this every test went to any worker and each worker started its own copy of a
    module's server (and ran the IOx conformance fixture twice).
    """

    @pytest.hookimpl(trylast=True)  # after xdist's own hook, which still works on pytest < 9.2
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        if not getattr(config.option, "loadgroup", False):  # set in xdist workers only
            return
        for item in items:
            mark = item.get_closest_marker("xdist_group")
            if mark is None or "@" in item.nodeid.rpartition("::")[2]:
                continue
            grouped = f"{item.nodeid}@{mark.args[0]}"
            if hasattr(item, "_id"):
                item._id = type(item._id).parse(grouped)
            else:
                item._nodeid = grouped


# The collector's young-generation threshold while tests run (CPython's default is 700): a
# young collection then runs every 10,000 net allocations, and so the full ones, which walk
# every object the run made since the freeze below, come a tenth as often.
_RUN_GC_THRESHOLD = (10_000, 10, 10)


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Iterator[None]:
    """Collect with the garbage collector off, then freeze what collection made.

    Collecting the suite leaves some 360,000 objects that live to the end (the test modules,
    the libraries they import, the items). The collector walked all of them in each full
    collection: six during each worker's collection, one every few seconds while the tests
    ran, and more at the interpreter's exit. Collection makes almost no garbage, and frozen
    objects are never walked again (``gc.freeze``). What the tests make is collected as
    before, only less often (``_RUN_GC_THRESHOLD``); a test that needs a collection at a
    point (a finalizer's warning) calls ``gc.collect()``.
    """
    gc.disable()
    try:
        return (yield)
    finally:
        gc.freeze()
        gc.set_threshold(*_RUN_GC_THRESHOLD)
        gc.enable()


@pytest.fixture(autouse=True)
def _proxy_bypass_restored() -> Iterator[None]:
    """``build_app`` adds 127.0.0.1 to the process's ``NO_PROXY`` (``loopback_files.start``:
    the S3 client reads ``os.environ``): put it back, so no test sees another's edit."""
    saved = {name: os.environ.get(name) for name in ("NO_PROXY", "no_proxy")}
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def pytest_configure(config: pytest.Config) -> None:
    """Servers are forked from a zygote that imported the server once (``FLIGHT_IOX_NO_ZYGOTE=1``
    turns it off); it starts with this process's first server (xdist's controller starts none).
    """
    launcher.use_zygote()
    config.pluginmanager.register(_GroupIds(), "flight-iox-group-ids")


def pytest_unconfigure(config: pytest.Config) -> None:
    launcher.stop_zygote()
