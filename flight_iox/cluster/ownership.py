"""Which ingest node takes a table's writes: the holder of its ``ingest`` lease.

A write for a table arrives at any ingest node. If that node holds the lease (or takes
it, because it is free or its holder's expired), the write is stored here. Otherwise it
is forwarded, already parsed, to the holder over Flight, and the client's answer waits
for the holder's fsync: forwarding, not a redirect, so every client works unchanged
and a body spanning tables owned by different nodes is one request. The holder does not
forward again: if the lease moved meanwhile, the write is refused with a 503 to retry.

A node taking a lease first loads the table's persisted state from the catalog (its
schema and files), so it validates against the columns the previous owner persisted.
What the previous owner had not persisted stays in its WAL on its disk until it runs
again: it replays its WAL, queries see those rows through it, and it persists them
(docs/cluster.md says what that means).

Nodes started with ``--mode all`` take no leases: each stores what it is sent, as a single
server does.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pyarrow.flight as flight

from flight_iox.auth.policy import Principal
from flight_iox.cluster.node import ClusterNode
from flight_iox.cluster.remote import Peers
from flight_iox.cluster.roles import Roles
from flight_iox.errors import FlightIoxError, ForbiddenError, RetryLaterError, WrongNodeError
from flight_iox.ingest import MeasurementBatch

INGEST_LEASE = "ingest"


class TableOwnership:
    """The engine's ``WriteRouter`` for a cluster node."""

    def __init__(
        self,
        node: ClusterNode,
        peers: Peers,
        load_table: Callable[[str, str], None],
        timeout: float,
    ) -> None:
        """``load_table`` brings a table's persisted state in before this node owns it."""
        self._node = node
        self._peers = peers
        self._load_table = load_table
        self._timeout = timeout
        self._leases = node.roles.ingest and not node.roles.every
        self._forwarded = threading.local()

    @contextmanager
    def forwarded(self) -> Iterator[None]:
        """While held (a write another node forwarded), tables owned elsewhere are refused."""
        self._forwarded.on = True
        try:
            yield
        finally:
            self._forwarded.on = False

    def check_writable(self) -> None:
        """``WrongNodeError`` naming the ingest nodes, on a node that takes no writes."""
        if self._node.roles.ingest:
            return
        ingest = [
            f"{n.node_id} ({n.http_addr})"
            for n in self._node.nodes()
            if n.alive and Roles.parse(n.mode).ingest
        ]
        where = ", ".join(ingest) if ingest else "none is alive now"
        raise WrongNodeError(
            f"node {self._node.node_id!r} runs --mode {self._node.roles} and takes no writes; "
            f"write to an ingest node: {where}"
        )

    def remote_owners(self, database: str, tables: list[str]) -> dict[str, str]:
        """The tables another node owns, with its id; leases of free tables are taken."""
        if not self._leases:
            return {}
        owners = {}
        for table in sorted(set(tables)):
            owner = self._node.owner(
                INGEST_LEASE,
                database,
                table,
                on_gain=functools.partial(self._load_table, database, table),
            )
            if owner == self._node.node_id:
                continue
            if getattr(self._forwarded, "on", False):
                raise RetryLaterError(
                    f"table {database}.{table} moved to ingest node {owner!r} while this write "
                    "was forwarded; retry"
                )
            owners[table] = owner
        return owners

    def forward(
        self,
        owner: str,
        database: str,
        batches: list[MeasurementBatch],
        *,
        principal: Principal,
        accept_partial: bool,
        no_sync: bool,
    ) -> tuple[int, list[tuple[int, str]]]:
        """Send each batch to ``owner``; rows stored there and lines it rejected."""
        record = self._node.node(owner)
        retry = math.ceil(self._timeout)
        if record is None or not record.alive:
            raise RetryLaterError(
                f"the tables {', '.join(b.measurement for b in batches)} of {database!r} are "
                f"owned by ingest node {owner!r}, which is not alive; its lease expires within "
                f"{retry}s, then another ingest node takes them: retry",
                retry_after=retry,
            )
        flags = {"accept_partial": accept_partial, "no_sync": no_sync}
        rows, errors = 0, []
        for batch in batches:
            try:
                stored, rejected = self._peers.forward(record.flight_addr, database, batch, flags)
            except (flight.FlightUnavailableError, flight.FlightTimedOutError) as error:
                self._peers.forget(record.flight_addr)
                raise RetryLaterError(
                    f"table {database}.{batch.measurement} is owned by ingest node {owner!r} "
                    f"({record.flight_addr}), which did not answer ({_first_line(error)}); retry",
                    retry_after=retry,
                ) from None
            except (flight.FlightUnauthenticatedError, flight.FlightUnauthorizedError) as error:
                raise ForbiddenError(
                    f"ingest node {owner!r} refused the write forwarded for table "
                    f"{database}.{batch.measurement} ({_first_line(error)}); give every node "
                    "--cluster-token with a token valid on the others"
                ) from None
            except flight.FlightError as error:
                raise FlightIoxError(
                    f"ingest node {owner!r} failed the write forwarded for table "
                    f"{database}.{batch.measurement}: {_first_line(error)}"
                ) from None
            rows += stored
            errors.extend(rejected)
        return rows, errors


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
