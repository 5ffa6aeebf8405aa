"""Catch only what you expect: every handler of ``Exception`` in the code is one of three kinds.

1. Cleanup: it undoes something and re-raises (``except BaseException: close(); raise``).
2. DataFusion's verdict: it re-raises at once what ``is_engine_error`` refuses
   (``if not is_engine_error(error): raise``), because DataFusion raises a bare
   ``Exception`` for a failed query (``flight_iox/query/engine_errors.py``).
3. A boundary listed below, with the reason it must survive any failure; each logs the
   failure with its traceback (or hands it to a transport that does).

Anything else would turn a bug of ours into a 400, a per-statement error or silence.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("flight_iox", "catalog", "clients")
BROAD = {"Exception", "BaseException"}

# (file, function) -> why it catches everything.
BOUNDARIES = {
    ("flight_iox/flightsql/server.py", "wrapper"): (
        "every Flight RPC and middleware call: errors leave through status.py, which logs bugs"
        " with their traceback and sends INTERNAL"
    ),
    ("flight_iox/flightsql/prefetch.py", "_work"): (
        "a statement run ahead of its DoGet on a worker thread, where no client sees a"
        " failure: a bug is logged with its traceback and the DoGet runs the statement again,"
        " so its client gets the error through status.py"
    ),
    ("flight_iox/flightsql/status.py", "translated_batches"): (
        "a DoGet stream: raise_for_client logs a bug with its traceback"
    ),
    ("flight_iox/flightsql/status.py", "translated_messages"): (
        "a streaming subscription's DoGet: raise_for_client logs a bug with its traceback"
    ),
    ("flight_iox/subscriptions/delivery.py", "_run"): (
        "a subscription's delivery thread must outlive a failure (an unreadable WAL, a bug):"
        " logged with its traceback, shown in system.subscriptions, retried after a backoff"
    ),
    ("flight_iox/replication/shipper.py", "_run"): (
        "a replica's shipping thread must outlive a failure (an unreadable WAL, a bug): logged"
        " with its traceback, shown in system.replication, retried after a backoff"
    ),
    ("flight_iox/replication/puller.py", "_run"): (
        "a follower's pulling thread must outlive a failure (a bad frame, a bug): logged with"
        " its traceback, shown in system.replication, retried after a backoff"
    ),
    ("flight_iox/subscriptions/service.py", "_run"): (
        "the thread saving subscription positions must outlive a failed write (a full disk):"
        " logged with its traceback; deliveries go on and the positions are written later"
    ),
    ("flight_iox/query/partial_aggs.py", "warm"): (
        "aggregating a persist's or compaction's new files ahead, for a cache: a failure is a"
        " miss for the next query and must never fail the persist; a bug is logged with its"
        " traceback, DataFusion's and the query limits' refusals in one line"
    ),
    ("flight_iox/persist/persister.py", "_persist"): (
        "storage can fail in many ways: the rows stay buffered and in the WAL; logged with"
        " its traceback (a full disk: one warning) and listed in the cycle's report"
    ),
    ("flight_iox/persist/persister.py", "_run"): (
        "the background persist thread must outlive a failed cycle; logged with its traceback"
    ),
    ("flight_iox/influxql/cq_scheduler.py", "_loop"): (
        "the continuous query thread must outlive a failed pass; logged with its traceback"
    ),
    ("flight_iox/persist/follower.py", "tick"): (
        "the background catalog follower keeps serving the last state; logged with its traceback"
    ),
    ("flight_iox/cluster/node.py", "beat"): (
        "the heartbeat thread must outlive a catalog database outage (the leases lapse by"
        " themselves); logged once per outage with its traceback"
    ),
    ("flight_iox/cluster/node.py", "stop"): (
        "a stop must finish even when the registry is unreachable (the entry expires by"
        " itself); logged with its traceback"
    ),
    ("flight_iox/processing/worker.py", "serve"): (
        "the plugin worker process runs someone's plugin: whatever its import or entry point"
        " raises goes back to the server with its traceback, into the trigger's log"
    ),
    ("flight_iox/processing/runner.py", "_invoke"): (
        "a bug of ours while serving a plugin's request: logged with its traceback, the call"
        " fails like a plugin failure (its worker was killed) and the trigger runs on"
    ),
    ("flight_iox/persist/follower.py", "follow"): (
        "one table's unreadable metadata: the other tables still follow; logged once per"
        " location with its traceback and retried next tick"
    ),
}


def _catches_everything(handler: ast.ExceptHandler) -> bool:
    kinds = handler.type
    if kinds is None:
        return True
    names = kinds.elts if isinstance(kinds, ast.Tuple) else [kinds]
    return any(isinstance(n, ast.Name) and n.id in BROAD for n in names)


def _reraises(handler: ast.ExceptHandler) -> bool:
    last = handler.body[-1]
    return isinstance(last, ast.Raise) and last.exc is None


def _lets_bugs_through(handler: ast.ExceptHandler) -> bool:
    first = handler.body[0]
    return (
        isinstance(first, ast.If)
        and isinstance(first.test, ast.UnaryOp)
        and isinstance(first.test.op, ast.Not)
        and isinstance(first.test.operand, ast.Call)
        and getattr(first.test.operand.func, "id", None) == "is_engine_error"
        and isinstance(first.body[0], ast.Raise)
        and first.body[0].exc is None
    )


def _broad_handlers() -> list[tuple[str, str, ast.ExceptHandler]]:
    """(file, enclosing function, handler) for every handler of ``Exception`` or wider."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "generated" in path.parts:
                continue
            file = str(path.relative_to(ROOT))
            found += [(file, name, h) for name, h in _handlers(ast.parse(path.read_text()), "")]
    return found


def _handlers(node: ast.AST, function: str) -> list[tuple[str, ast.ExceptHandler]]:
    """The broad handlers under ``node``, each with its innermost enclosing function."""
    found = []
    for child in ast.iter_child_nodes(node):
        name = function
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            name = child.name
        elif isinstance(child, ast.ExceptHandler) and _catches_everything(child):
            found.append((function, child))
        found += _handlers(child, name)
    return found


def test_every_broad_handler_reraises_lets_bugs_through_or_is_a_boundary() -> None:
    unexpected = [
        f"{file}:{handler.lineno} in {name}()"
        for file, name, handler in _broad_handlers()
        if not (_reraises(handler) or _lets_bugs_through(handler) or (file, name) in BOUNDARIES)
    ]
    assert not unexpected, f"catch what you expect, or list the boundary here: {unexpected}"


def test_every_listed_boundary_still_exists() -> None:
    present = {(file, name) for file, name, _ in _broad_handlers()}
    assert set(BOUNDARIES) <= present


def test_no_suppress_exception() -> None:
    """``contextlib.suppress(Exception)`` hides bugs the same way."""
    offenders = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "attr", getattr(node.func, "id", None)) == "suppress"
                    and any(isinstance(a, ast.Name) and a.id in BROAD for a in node.args)
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders
