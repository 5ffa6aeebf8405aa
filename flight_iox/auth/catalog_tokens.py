"""``TokenStore`` in the catalog's PostgreSQL database, shared by every node of a cluster.

Nodes on one PostgreSQL catalog must accept the same tokens (a client may reach any of
them, and nodes call each other with ``--cluster-token``). So the records (hashes only,
never a secret) live in two tables beside the catalog's own:

- ``iox_auth_tokens``: one row per token (id, unique name, SHA-256 hash, admin flag,
  permissions as JSON, creation time);
- ``iox_auth_state``: ``admin_created`` (bootstrap stays closed once an admin existed, on
  every node) and ``version``, incremented by every change in the same transaction.

Each node keeps the records in memory and serves ``find`` from there (a request costs no
database round trip). Staleness is bounded:

- at most ``refresh_seconds`` after it was last read, the next request first reads
  ``version`` (one small query) and reloads the records if it moved; so a token revoked
  on one node is refused by every node within that bound (1 s by default);
- a token this node does not know makes it read ``version`` at once (at most every
  ``MISS_INTERVAL_SECONDS``, so bad tokens cannot flood the database): a token created on
  another node works on this one at its first use.

When the database cannot be reached the node keeps the records it has (logged once):
requests keep being authenticated, but a revocation made elsewhere meanwhile only
applies once the database answers again.

Writes are single transactions; ``add_first_admin`` locks the state row
(``SELECT … FOR UPDATE``), so two nodes bootstrapping at once make one admin token.
A node that starts with a ``tokens.json`` (from its single-node days, or written by
``flight-iox token recover-admin``) copies its records in, names already shared winning,
then renames the file ``tokens.json.imported``: copied once, so a token revoked on the
cluster never comes back from a node's old file.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from flight_iox.auth.tokens import FileTokenStore, TokenRecord, find_record
from flight_iox.errors import AlreadyExistsError, NotFoundError

log = logging.getLogger(__name__)
METADATA = sa.MetaData()
TOKENS = sa.Table(
    "iox_auth_tokens",
    METADATA,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("hash", sa.String(128), nullable=False),
    sa.Column("admin", sa.Boolean, nullable=False),
    sa.Column("permissions", sa.Text, nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
)
STATE = sa.Table(
    "iox_auth_state",
    METADATA,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)
ADMIN_CREATED, VERSION = "admin_created", "version"
REFRESH_SECONDS = 1.0
MISS_INTERVAL_SECONDS = 0.1


class CatalogTokenStore:
    """``TokenStore`` over the catalog's PostgreSQL database (``uri``: SQLAlchemy's)."""

    def __init__(
        self, uri: str, local: Path | None = None, refresh_seconds: float = REFRESH_SECONDS
    ) -> None:
        """``local``: a ``tokens.json`` whose records are copied in (names taken stay)."""
        self._engine = sa.create_engine(uri, pool_pre_ping=True, pool_size=2)
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._records: list[TokenRecord] = []
        self._admin_created = False
        self._version: int | None = None
        self._checked = 0.0  # monotonic time of the last look at ``version``
        self._unreachable = False
        self._listeners: list[Callable[[], None]] = []
        self._create_tables()
        if local is not None and local.exists():
            self._import(FileTokenStore(local))
        self._refresh(force=True)

    def _create_tables(self, attempts: int = 5) -> None:
        """Create the tables once; nodes starting together may race (as ``NodeRegistry``)."""
        for attempt in range(attempts):
            try:
                METADATA.create_all(self._engine, checkfirst=True)
                with self._engine.begin() as connection:
                    for key in (ADMIN_CREATED, VERSION):
                        insert = postgresql_insert(STATE).values(key=key, value=0)
                        connection.execute(insert.on_conflict_do_nothing())
                return
            except (IntegrityError, ProgrammingError, OperationalError):
                if attempt == attempts - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def _import(self, local: FileTokenStore) -> None:
        records = local.records()
        with self._engine.begin() as connection:
            for record in records:
                insert = postgresql_insert(TOKENS).values(**_row(record))
                connection.execute(insert.on_conflict_do_nothing())
            if local.admin_created():
                self._set_admin_created(connection)
            self._bump(connection)
        local.path.replace(local.path.with_name(local.path.name + ".imported"))
        log.info("tokens: %d record(s) of %s copied into the catalog", len(records), local.path)

    # --- reading ---------------------------------------------------------------------------

    def _refresh(self, force: bool = False, miss: bool = False) -> None:
        """Reload the records if ``version`` moved and the last look is old enough."""
        now = time.monotonic()
        changed = False
        with self._lock:
            wait = MISS_INTERVAL_SECONDS if miss else self._refresh_seconds
            if not force and now - self._checked < wait:
                return
            self._checked = now
            try:
                with self._engine.connect() as connection:
                    state = dict(connection.execute(sa.select(STATE.c.key, STATE.c.value)).all())
                    if force or state.get(VERSION) != self._version:
                        rows = connection.execute(
                            sa.select(TOKENS).order_by(TOKENS.c.created_ns, TOKENS.c.id)
                        ).all()
                        self._records = [_record(row._mapping) for row in rows]
                        self._admin_created = bool(state.get(ADMIN_CREATED))
                        self._version = state.get(VERSION)
                        changed = True
            except OperationalError as error:
                if force:
                    raise
                if not self._unreachable:
                    log.warning("tokens: catalog database unreachable, using the records "
                                "read before: %s", str(error).splitlines()[0])  # fmt: skip
                self._unreachable = True
                return
            if self._unreachable:
                log.info("tokens: catalog database reachable again")
            self._unreachable = False
        if changed and not force:
            self._changed()

    def find(self, secret: str) -> TokenRecord | None:
        """The record of ``secret`` (constant-time compare); an unknown one looks again."""
        self._refresh()
        with self._lock:
            found = find_record(self._records, secret)
        if found is None:
            self._refresh(miss=True)
            with self._lock:
                found = find_record(self._records, secret)
        return found

    def records(self) -> list[TokenRecord]:
        """Every record, oldest first."""
        self._refresh()
        with self._lock:
            return list(self._records)

    def admin_created(self) -> bool:
        """Whether an admin token was ever stored on any node."""
        self._refresh()
        with self._lock:
            return self._admin_created

    # --- writing ---------------------------------------------------------------------------

    def add(self, record: TokenRecord) -> None:
        """Store ``record``; a name taken on any node is ``AlreadyExistsError``."""
        try:
            with self._engine.begin() as connection:
                connection.execute(sa.insert(TOKENS).values(**_row(record)))
                if record.admin:
                    self._set_admin_created(connection)
                self._bump(connection)
        except IntegrityError:
            raise AlreadyExistsError(f"a token named {record.name!r} already exists") from None
        self._written()

    def add_first_admin(self, record: TokenRecord) -> bool:
        """Store an admin record only if no admin was ever stored; whether it was stored."""
        with self._engine.begin() as connection:
            created = connection.execute(
                sa.select(STATE.c.value).where(STATE.c.key == ADMIN_CREATED).with_for_update()
            ).scalar_one()
            admins = connection.execute(
                sa.select(sa.func.count()).select_from(TOKENS).where(TOKENS.c.admin)
            ).scalar_one()
            if created or admins:
                return False
            connection.execute(sa.insert(TOKENS).values(**_row(record)))
            self._set_admin_created(connection)
            self._bump(connection)
        self._written()
        return True

    def replace_admin(self, record: TokenRecord) -> None:
        """Store admin ``record`` in place of any record named like it (offline recovery)."""
        with self._engine.begin() as connection:
            connection.execute(sa.delete(TOKENS).where(TOKENS.c.name == record.name))
            connection.execute(sa.insert(TOKENS).values(**_row(record)))
            self._set_admin_created(connection)
            self._bump(connection)
        self._written()

    def remove(self, name_or_id: str) -> TokenRecord:
        """Delete the record named (or with id) ``name_or_id``, for every node."""
        where = sa.or_(TOKENS.c.name == name_or_id, TOKENS.c.id == name_or_id)
        with self._engine.begin() as connection:
            row = connection.execute(sa.delete(TOKENS).where(where).returning(TOKENS)).first()
            if row is None:
                raise NotFoundError(f"no token named {name_or_id!r}")
            self._bump(connection)
        self._written()
        return _record(row._mapping)

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every change, made here or seen from another node."""
        self._listeners.append(listener)

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def _written(self) -> None:
        self._refresh(force=True)
        self._changed()

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    @staticmethod
    def _bump(connection: sa.Connection) -> None:
        connection.execute(
            sa.update(STATE).where(STATE.c.key == VERSION).values(value=STATE.c.value + 1)
        )

    @staticmethod
    def _set_admin_created(connection: sa.Connection) -> None:
        connection.execute(sa.update(STATE).where(STATE.c.key == ADMIN_CREATED).values(value=1))


def _row(record: TokenRecord) -> dict[str, Any]:
    body = record.as_json(with_hash=True)
    return {
        "id": record.id, "name": record.name, "hash": record.hash, "admin": record.admin,
        "permissions": json.dumps(body["permissions"]), "created_ns": record.created_ns,
    }  # fmt: skip


def _record(row: Any) -> TokenRecord:
    return TokenRecord.from_json({**dict(row), "permissions": json.loads(row["permissions"])})
