"""Who may do what: the auth mode, the authenticated principal, permission checks.

HTTP and Flight both go through ``Authorizer``, so the same token gets the
same answer on both: no or bad token is ``UnauthorizedError`` (401 /
UNAUTHENTICATED), a good token without the permission is ``ForbiddenError``
(403 / PERMISSION_DENIED).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from enum import StrEnum

from flight_iox.auth.tokens import Action, TokenRecord, TokenStore
from flight_iox.errors import ForbiddenError, UnauthorizedError


class AuthMode(StrEnum):
    """``--auth``: whether requests need a token."""

    REQUIRED = "required"
    OFF = "off"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name) only ever means this machine."""
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def default_mode(hosts: list[str]) -> AuthMode:
    """``off`` when every listen address is loopback, ``required`` otherwise."""
    return AuthMode.OFF if all(is_loopback(h) for h in hosts) else AuthMode.REQUIRED


@dataclass(frozen=True)
class Principal:
    """Who is calling: what every engine entry point is given with the names it resolves.

    ``ANONYMOUS`` (auth off) may do everything, as an admin token may.
    """

    name: str
    admin: bool
    record: TokenRecord | None = None

    def may(self, action: Action, database: str | None) -> bool:
        """Whether this principal may ``action`` on ``database`` (None: no database named)."""
        if self.admin:
            return True
        assert self.record is not None
        return any(p.allows(action, database) for p in self.record.permissions)

    def readable(self, databases: list[str]) -> list[str]:
        """The subset of ``databases`` this principal may read."""
        if self.admin:
            return list(databases)
        return [d for d in databases if self.may(Action.READ, d)]


ANONYMOUS = Principal("anonymous", admin=True)


class Authorizer:
    """Turns a presented token into a ``Principal`` and checks permissions."""

    def __init__(self, mode: AuthMode, store: TokenStore) -> None:
        self.mode = mode
        self.store = store

    @property
    def required(self) -> bool:
        """Whether requests need a token."""
        return self.mode is AuthMode.REQUIRED

    def authenticate(self, secret: str | None) -> Principal:
        """The principal of ``secret``; with auth off, anyone is ``ANONYMOUS``."""
        if not self.required:
            return ANONYMOUS
        if not secret:
            raise UnauthorizedError("authentication required: send a token (Authorization: Bearer)")
        record = self.store.find(secret)
        if record is None:
            raise UnauthorizedError("invalid token")
        return Principal(record.name, record.admin, record)

    def principal_of_token(self, token_id: str) -> Principal | None:
        """The principal of the stored token ``token_id`` now (None: it was revoked).

        What acts for a token later, without its secret: continuous queries and
        processing-engine triggers run as the token that created them.
        """
        for record in self.store.records():
            if record.id == token_id:
                return Principal(record.name, record.admin, record)
        return None

    @staticmethod
    def require(principal: Principal, action: Action, database: str | None) -> None:
        """Raise ``ForbiddenError`` unless ``principal`` may ``action`` on ``database``."""
        if not principal.may(action, database):
            target = f"database {database!r}" if database else "this request"
            raise ForbiddenError(f"token {principal.name!r} may not {action.value} {target}")

    @staticmethod
    def require_admin(principal: Principal) -> None:
        """Raise ``ForbiddenError`` unless ``principal`` is an admin."""
        if not principal.admin:
            raise ForbiddenError(f"token {principal.name!r} is not an admin token")
