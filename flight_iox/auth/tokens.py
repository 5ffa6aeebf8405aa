"""API tokens: how they are made, hashed and stored.

A token is ``apiv3_`` plus 48 random bytes in URL-safe base64 (384 bits), so a
plain SHA-256 is a safe hash: there is nothing to brute-force, and a slow KDF
would only slow down every request. Only the hash is ever stored; a secret is
shown once, when it is created.

Storage is behind ``TokenStore``: ``FileTokenStore`` keeps ``tokens.json`` in
the data folder, rewritten atomically (temporary file, fsync, rename) on every
change; on a PostgreSQL catalog every node shares ``CatalogTokenStore``
(``catalog_tokens.py``).

The store also remembers that an admin token has ever existed
(``admin_created``), so revoking every admin token does not re-open the
unauthenticated bootstrap (``POST /api/v3/configure/token/admin``). Recovery
is offline: ``flight-iox token recover-admin`` (``replace_admin``) while the
server is stopped.

``tokens_table`` is the SQL view of the records (``system.tokens``): names,
ids, admin flag, permissions and creation time, never a hash or a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import pyarrow as pa

from flight_iox.errors import AlreadyExistsError, BadRequestError, NotFoundError

TOKEN_PREFIX = "apiv3_"
ALL_DATABASES = "*"
ADMIN_TOKEN_NAME = "_admin"
_FORMAT_VERSION = 1


class Action(StrEnum):
    """What a database permission allows.

    ``read`` queries; ``write`` adds rows (line protocol, DoPut, ``INSERT``, ``SELECT INTO``);
    ``create`` makes databases and tables; ``delete`` removes rows, tables and databases.
    A token without ``write``, ``create`` or ``delete`` never changes data.
    """

    READ = "read"
    WRITE = "write"
    CREATE = "create"
    DELETE = "delete"


@dataclass(frozen=True)
class Permission:
    """Actions allowed on one database (``*``: every database)."""

    database: str
    actions: frozenset[Action]

    def allows(self, action: Action, database: str | None) -> bool:
        """Whether this permission covers ``action`` on ``database`` (None: any database)."""
        if action not in self.actions:
            return False
        return self.database == ALL_DATABASES or (
            database is not None and self.database == database
        )

    def as_json(self) -> dict[str, object]:
        """The API shape: ``{"database": ..., "actions": [...]}``."""
        return {"database": self.database, "actions": sorted(a.value for a in self.actions)}

    @classmethod
    def from_json(cls, body: object) -> Permission:
        """Read the API shape; anything else is a bad request naming what is wrong."""
        if not isinstance(body, dict):
            raise BadRequestError('a permission is an object {"database": ..., "actions": [...]}')
        database, actions = body.get("database"), body.get("actions")
        if not isinstance(database, str) or not database:
            raise BadRequestError("a permission needs a 'database' (a name, or '*')")
        if not isinstance(actions, list) or not actions:
            raise BadRequestError(
                f"permission on {database!r} needs 'actions': read, write, create and/or delete"
            )
        try:
            parsed = frozenset(Action(str(a).lower()) for a in actions)
        except ValueError:
            raise BadRequestError(
                f"unknown action in {actions!r}; expected read, write, create or delete"
            ) from None
        return cls(database, parsed)


@dataclass(frozen=True)
class TokenRecord:
    """A stored token: everything but its secret."""

    id: str
    name: str
    hash: str
    admin: bool
    permissions: tuple[Permission, ...] = ()
    created_ns: int = field(default_factory=time.time_ns)

    def as_json(self, with_hash: bool = False) -> dict[str, object]:
        """The record as JSON; the hash only goes to the store's file."""
        body: dict[str, object] = {
            "id": self.id,
            "name": self.name,
            "admin": self.admin,
            "permissions": [p.as_json() for p in self.permissions],
            "created_ns": self.created_ns,
        }
        if with_hash:
            body["hash"] = self.hash
        return body

    @classmethod
    def from_json(cls, body: dict[str, object]) -> TokenRecord:
        """Read a record written by ``as_json(with_hash=True)``."""
        permissions = body.get("permissions") or []
        assert isinstance(permissions, list)
        created = body.get("created_ns", 0)
        return cls(
            id=str(body["id"]),
            name=str(body["name"]),
            hash=str(body["hash"]),
            admin=bool(body.get("admin")),
            permissions=tuple(Permission.from_json(p) for p in permissions),
            created_ns=int(created) if isinstance(created, int) else 0,
        )


def new_secret() -> str:
    """A fresh high-entropy token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(48)


def hash_token(secret: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_admin_record(name: str = ADMIN_TOKEN_NAME) -> tuple[TokenRecord, str]:
    """A fresh admin token: its record and its secret (shown once)."""
    secret = new_secret()
    return TokenRecord(secrets.token_hex(8), name, hash_token(secret), admin=True), secret


def find_record(records: Iterable[TokenRecord], secret: str) -> TokenRecord | None:
    """The record of ``secret``, compared against every stored hash so the time taken
    says nothing."""
    wanted = hash_token(secret)
    found = None
    for record in records:
        if hmac.compare_digest(record.hash, wanted):
            found = record
    return found


class TokenStore(Protocol):
    """Where token records live. Implementations are thread-safe."""

    def find(self, secret: str) -> TokenRecord | None:
        """The record of ``secret``, compared in constant time; None when unknown."""
        ...

    def records(self) -> list[TokenRecord]:
        """Every record, oldest first."""
        ...

    def add(self, record: TokenRecord) -> None:
        """Store a new record; a name already used is ``AlreadyExistsError``."""
        ...

    def add_first_admin(self, record: TokenRecord) -> bool:
        """Store an admin record only if no admin was ever stored; whether it was stored."""
        ...

    def admin_created(self) -> bool:
        """Whether an admin token was ever stored (revoked ones count: bootstrap stays closed)."""
        ...

    def replace_admin(self, record: TokenRecord) -> None:
        """Store an admin record, replacing any record of the same name (offline recovery)."""
        ...

    def remove(self, name_or_id: str) -> TokenRecord:
        """Delete a record by name or id; ``NotFoundError`` when there is none."""
        ...

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every change."""
        ...


class FileTokenStore:
    """``TokenStore`` in one JSON file, rewritten atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._records: list[TokenRecord] = []
        self._admin_created = False
        self._load()
        self._listeners: list[Callable[[], None]] = []

    def _load(self) -> None:
        if not self.path.exists():
            return
        body = json.loads(self.path.read_text())
        self._records = [TokenRecord.from_json(item) for item in body.get("tokens", [])]
        # Files written before the flag existed: an admin record proves one was created.
        self._admin_created = bool(body.get("admin_created")) or any(r.admin for r in self._records)

    def _save(self) -> None:
        body = {
            "version": _FORMAT_VERSION,
            "admin_created": self._admin_created,
            "tokens": [r.as_json(True) for r in self._records],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with open(temporary, "w") as out:
            json.dump(body, out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, self.path)

    def find(self, secret: str) -> TokenRecord | None:
        """The record of ``secret`` (``find_record``)."""
        with self._lock:
            return find_record(self._records, secret)

    def records(self) -> list[TokenRecord]:
        """Every record, oldest first."""
        with self._lock:
            return list(self._records)

    def add(self, record: TokenRecord) -> None:
        """Store ``record`` and rewrite the file."""
        with self._lock:
            if any(r.name == record.name for r in self._records):
                raise AlreadyExistsError(f"a token named {record.name!r} already exists")
            self._records.append(record)
            self._admin_created |= record.admin
            self._save()
        self._changed()

    def add_first_admin(self, record: TokenRecord) -> bool:
        """Store an admin record only if no admin was ever stored; whether it was stored."""
        with self._lock:
            if self._admin_created or any(r.admin for r in self._records):
                return False
            self._records.append(record)
            self._admin_created = True
            self._save()
        self._changed()
        return True

    def admin_created(self) -> bool:
        """Whether an admin token was ever stored, even if every one was revoked since."""
        with self._lock:
            return self._admin_created

    def replace_admin(self, record: TokenRecord) -> None:
        """Store admin ``record`` in place of any record named like it (offline recovery)."""
        with self._lock:
            self._records = [r for r in self._records if r.name != record.name]
            self._records.append(record)
            self._admin_created = True
            self._save()
        self._changed()

    def remove(self, name_or_id: str) -> TokenRecord:
        """Delete the record named (or with id) ``name_or_id``."""
        with self._lock:
            for record in self._records:
                if name_or_id in (record.name, record.id):
                    self._records.remove(record)
                    self._save()
                    break
            else:
                raise NotFoundError(f"no token named {name_or_id!r}")
        self._changed()
        return record

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every change (``system.tokens`` is rebuilt on it)."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()


TOKENS_SCHEMA = pa.schema(
    [
        pa.field("token_id", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("admin", pa.bool_(), nullable=False),
        pa.field("permissions", pa.string(), nullable=False),
        pa.field("created_at", pa.timestamp("ns"), nullable=False),
    ]
)


def tokens_table(records: list[TokenRecord]) -> pa.Table:
    """``system.tokens``: one row per token, without secrets or hashes.

    ``permissions`` reads ``db:read,write; *:read`` (empty for admin tokens,
    which may do everything).
    """
    rows = [
        {
            "token_id": record.id,
            "name": record.name,
            "admin": record.admin,
            "permissions": "; ".join(
                f"{p.database}:{','.join(sorted(a.value for a in p.actions))}"
                for p in record.permissions
            ),
            "created_at": record.created_ns,
        }
        for record in records
    ]
    return pa.Table.from_pylist(rows, schema=TOKENS_SCHEMA)
