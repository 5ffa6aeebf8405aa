"""Tokens for e2e tests against a server started with ``--auth required``."""

from __future__ import annotations

import requests

_TIMEOUT = 30


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


def bootstrap_admin(http_url: str) -> str:
    """The server's first admin token (the bootstrap route works once)."""
    reply = requests.post(f"{http_url}/api/v3/configure/token/admin", timeout=_TIMEOUT)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["token"])


def grant(http_url: str, admin: str, name: str, database: str, actions: list[str]) -> str:
    """A new token named ``name`` allowed ``actions`` on ``database``."""
    body = {"name": name, "permissions": [{"database": database, "actions": actions}]}
    reply = requests.post(
        f"{http_url}/api/v3/configure/token", json=body, headers=bearer(admin), timeout=_TIMEOUT
    )
    assert reply.status_code == 201, reply.text
    return str(reply.json()["token"])
