"""Tokens shared by the nodes of one PostgreSQL catalog (``auth/catalog_tokens.py``).

Two real servers with ``--auth required`` on one catalog: a token made on one works on
the other at its first use, a revocation on one is refused by the other within the
refresh bound, and the admin bootstrap is closed for both once either made an admin.
The store itself, on a fresh database: a local ``tokens.json`` copied in once, and two
stores seeing each other's changes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from flight_iox.auth.catalog_tokens import CatalogTokenStore
from flight_iox.auth.tokens import Action, FileTokenStore, Permission, TokenRecord, hash_token
from flight_iox.errors import AlreadyExistsError
from flight_iox.launcher import RunningServer
from tests.e2e.cluster import Cluster, cluster, fresh_catalog_uri
from tests.e2e.moto_s3 import moto_s3, set_aws_env
from tests.e2e.polling import eventually

__all__ = ["cluster", "fresh_catalog_uri", "moto_s3"]  # fixtures, imported for pytest


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    set_aws_env(monkeypatch)


def _status(server: RunningServer, token: str) -> int:
    """A read on database ``alpha`` with ``token``: 401 only when the token is unknown."""
    reply = requests.get(
        f"{server.http_url}/api/v3/query_sql",
        params={"db": "alpha", "q": "SELECT 1 AS one"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    return reply.status_code


def test_a_token_made_on_one_node_works_on_the_other_and_its_revocation_too(
    cluster: Cluster,
) -> None:
    flags = ["--auth", "required", "--no-persist-on-shutdown"]
    cluster.start({"a": ("all", flags), "b": ("all", flags)})
    a, b = cluster["a"], cluster["b"]
    made = requests.post(f"{a.http_url}/api/v3/configure/token/admin", timeout=30)
    assert made.status_code == 201, made.text
    admin = {"Authorization": f"Bearer {made.json()['token']}"}
    # The bootstrap is closed on every node once one made the admin token.
    assert (
        requests.post(f"{b.http_url}/api/v3/configure/token/admin", timeout=30).status_code == 409
    )
    reply = requests.post(
        f"{a.http_url}/api/v3/write_lp", params={"db": "alpha"}, data="cpu v=1 1",
        headers=admin, timeout=30,
    )  # fmt: skip
    assert reply.status_code == 204, reply.text
    persisted = requests.post(f"{a.http_url}/api/v3/persist", headers=admin, timeout=60)
    assert persisted.status_code == 200, persisted.text  # so b follows the database
    body = {"name": "reader", "permissions": [{"database": "alpha", "actions": ["read"]}]}
    reply = requests.post(
        f"{a.http_url}/api/v3/configure/token", json=body, headers=admin, timeout=30
    )
    assert reply.status_code == 201, reply.text
    reader = reply.json()["token"]
    assert _status(b, reader) != 401  # known on b at its first use
    eventually(lambda: _status(b, reader), 200)  # once b follows the database's commit
    names = requests.get(
        f"{b.http_url}/api/v3/query_sql",
        params={"db": "alpha", "q": "SELECT name FROM system.tokens ORDER BY name"},
        headers=admin,
        timeout=30,
    )
    assert [row["name"] for row in names.json()] == ["_admin", "reader"]
    revoked = requests.delete(
        f"{a.http_url}/api/v3/configure/token", params={"name": "reader"}, headers=admin,
        timeout=30,
    )  # fmt: skip
    assert revoked.status_code == 200, revoked.text
    assert _status(a, reader) == 401
    eventually(lambda: _status(b, reader), 401)


def _record(name: str, secret: str, admin: bool = False) -> TokenRecord:
    permissions = () if admin else (Permission("alpha", frozenset({Action.READ})),)
    return TokenRecord(name + "-id", name, hash_token(secret), admin, permissions)


def test_the_store_copies_a_local_file_once_and_shares_changes(
    fresh_catalog_uri: str, tmp_path: Path
) -> None:
    uri = fresh_catalog_uri.replace("postgresql://", "postgresql+psycopg://", 1)
    local = tmp_path / "tokens.json"
    FileTokenStore(local).add(_record("old", "secret-old", admin=True))
    first = CatalogTokenStore(uri, local, refresh_seconds=0)
    second = CatalogTokenStore(uri, refresh_seconds=0)
    try:
        assert not local.exists() and local.with_name("tokens.json.imported").exists()
        assert first.admin_created() and second.admin_created()
        assert not second.add_first_admin(_record("boot", "secret-boot", admin=True))
        found = second.find("secret-old")
        assert found is not None and found.admin
        seen: list[int] = []
        second.add_listener(lambda: seen.append(1))
        first.add(_record("new", "secret-new"))
        found = second.find("secret-new")
        assert found is not None and found.permissions == _record("new", "x").permissions
        assert seen  # system.tokens is rebuilt on a change made by another node
        with pytest.raises(AlreadyExistsError):
            second.add(_record("new", "other"))
        assert first.remove("new").name == "new"
        assert second.find("secret-new") is None
        assert [r.name for r in second.records()] == ["old"]
    finally:
        first.close()
        second.close()
