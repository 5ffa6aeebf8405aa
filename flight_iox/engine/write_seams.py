"""What the write path asks of a cluster and of replication, as Protocols.

The engine takes these from the composition root (``flight_iox/app.py``): a single node
passes none, a cluster node its ``cluster/ownership.py`` router, a leader or replica its
``replication/service.py`` gate. Kept apart from ``engine.py`` so the engine reads as the
write path itself.
"""

from __future__ import annotations

from typing import Protocol

from flight_iox.auth.policy import Principal
from flight_iox.ingest import MeasurementBatch


class WriteRouter(Protocol):
    """Where a cluster's writes go (``cluster/ownership.py``); a single node has none.

    ``check_writable`` raises ``WrongNodeError`` on a node without the ingest role.
    ``remote_owners`` gives, for the tables another ingest node owns now, that node's id
    (the tables this node owns are left out; it takes their leases as needed). ``forward``
    sends one owner its batches and returns the rows it stored and its rejected lines.
    """

    def check_writable(self) -> None: ...

    def remote_owners(self, database: str, tables: list[str]) -> dict[str, str]: ...

    def forward(
        self,
        owner: str,
        database: str,
        batches: list[MeasurementBatch],
        *,
        principal: Principal,
        accept_partial: bool,
        no_sync: bool,
    ) -> tuple[int, list[tuple[int, str]]]: ...


class ReplicationGate(Protocol):
    """What replication asks of the write path (``replication/service.py``): on a replica,
    ``check_writable`` raises ``WrongNodeError`` naming the leader; ``wait_replicated``
    returns once a synced write is on enough replicas, else ``ReplicationTimeoutError``."""

    def check_writable(self) -> None: ...

    def wait_replicated(self, sequence: int) -> None: ...
