"""Named definitions kept per database in catalog.json (subscriptions use them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flight_iox.config import Limits
from flight_iox.engine.catalog import SchemaCatalog
from flight_iox.errors import AlreadyExistsError, DatabaseNotFoundError, NotFoundError


def test_objects_survive_a_reload_and_go_with_their_database(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    catalog = SchemaCatalog(path, Limits())
    catalog.create_database("db")
    catalog.create_database("other")
    catalog.add_object("subscription", "db", "s", {"mode": "ALL"})
    catalog.add_object("subscription", "other", "s", {"mode": "ANY"})
    with pytest.raises(AlreadyExistsError, match="'s'"):
        catalog.add_object("subscription", "db", "s", {})
    with pytest.raises(DatabaseNotFoundError):
        catalog.add_object("subscription", "missing", "s", {})

    reloaded = SchemaCatalog(path, Limits())
    assert reloaded.objects("subscription") == [
        ("db", "s", {"mode": "ALL"}),
        ("other", "s", {"mode": "ANY"}),
    ]
    reloaded.delete_database("other", 0)
    reloaded.remove_object("subscription", "db", "s")
    with pytest.raises(NotFoundError):
        reloaded.remove_object("subscription", "db", "s")
    assert SchemaCatalog(path, Limits()).objects("subscription") == []
