"""This node's registry entry and compact lease, from the settings (used by ``app.py``).

The registry lives in the SQL catalog's database (PostgreSQL for a cluster; the data
folder's SQLite catalog for a single node). A catalog of another type (REST, Glue, …)
has no database of ours: the registry then stays in the data folder, and such nodes
cannot form a cluster.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from flight_iox.cluster.node import ClusterNode
from flight_iox.cluster.registry import NodeRegistry
from flight_iox.cluster.roles import Roles
from flight_iox.config import Settings
from iox_catalog.config import CatalogConfig

COMPACT_LEASE = "compact"


def default_node_id(settings: Settings) -> str:
    """``HOSTNAME-HTTPPORT``, or the data folder's path when the port is picked at start."""
    port = settings.http_addr.rpartition(":")[2]
    if port and port != "0":
        return f"{socket.gethostname()}-{port}"
    return f"{socket.gethostname()}-{settings.data_dir.resolve()}"


def node_for(settings: Settings, config: CatalogConfig) -> ClusterNode:
    """This node over the registry in the catalog's database (``ValueError``: bad --mode)."""
    roles = Roles.parse(settings.mode)
    uri = config.catalog_uri() if config.is_sql else None
    if uri is None:
        uri = f"sqlite:///{settings.data_dir.resolve() / 'nodes.db'}"
    registry = NodeRegistry(uri, settings.node_timeout_seconds)
    return ClusterNode(
        registry,
        settings.node_id or default_node_id(settings),
        roles,
        settings.heartbeat_interval_seconds,
        settings.node_timeout_seconds,
    )


def compact_lease(node: ClusterNode) -> Callable[[str, str], AbstractContextManager[bool]]:
    """Whether this node may compact a table now; the lease is held, then given back."""

    @contextmanager
    def held(database: str, table: str) -> Iterator[bool]:
        if node.owner(COMPACT_LEASE, database, table) != node.node_id:
            yield False
            return
        try:
            yield True
        finally:
            node.release(COMPACT_LEASE, database, table)

    return held
