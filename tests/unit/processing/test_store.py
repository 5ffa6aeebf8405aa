"""Triggers live in the catalog (and go with their database); positions survive a reopen."""

from __future__ import annotations

from pathlib import Path

import pytest

from flight_iox.config import Limits
from flight_iox.engine.catalog import SchemaCatalog
from flight_iox.errors import AlreadyExistsError, DatabaseNotFoundError, NotFoundError
from flight_iox.processing.store import TriggerStore
from flight_iox.processing.triggers import TriggerConfig


def _open(folder: Path) -> tuple[SchemaCatalog, TriggerStore]:
    catalog = SchemaCatalog(folder / "catalog.json", Limits())
    return catalog, TriggerStore(catalog, folder)


def test_triggers_and_positions_survive_a_reopen(tmp_path: Path) -> None:
    catalog, store = _open(tmp_path)
    catalog.create_database("db")
    writes = TriggerConfig("db", "w", "p.py", "table:cpu", {"a": "1"}, error_behavior="retry")
    store.add(writes, position=7)
    store.add(TriggerConfig("db", "r", "p.py", "request:x"), position=None)
    store.replace(writes.with_disabled(True))
    store.set_position("db", "w", 9)
    _, reopened = _open(tmp_path)
    assert [c.name for c in reopened.all()] == ["r", "w"]
    assert reopened.get("db", "w") == writes.with_disabled(True)
    assert reopened.position("db", "w") == 9 and reopened.position("db", "r") is None


def test_names_and_request_paths_are_taken_once(tmp_path: Path) -> None:
    catalog, store = _open(tmp_path)
    catalog.create_database("a")
    catalog.create_database("b")
    store.add(TriggerConfig("a", "t", "p.py", "request:x"), None)
    with pytest.raises(AlreadyExistsError):
        store.add(TriggerConfig("a", "t", "p.py", "every:1s"), None)
    with pytest.raises(AlreadyExistsError, match="request path 'x'"):
        store.add(TriggerConfig("b", "u", "p.py", "request:x"), None)
    with pytest.raises(DatabaseNotFoundError):
        store.add(TriggerConfig("nodb", "t", "p.py", "every:1s"), None)
    with pytest.raises(NotFoundError):
        store.remove("a", "nosuch")


def test_deleting_a_database_drops_its_triggers(tmp_path: Path) -> None:
    catalog, store = _open(tmp_path)
    catalog.create_database("db")
    store.add(TriggerConfig("db", "t", "p.py", "all_tables"), 3)
    before = store.version
    catalog.delete_database("db", wal_sequence=3)
    assert store.all() == [] and store.find("db", "t") is None
    assert store.version != before  # the system table is built again
