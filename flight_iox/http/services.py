"""The services the HTTP routes call, injected into the app by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

from flight_iox.backup.take import BackupSource
from flight_iox.engine.engine import Engine
from flight_iox.flux.service import Flux
from flight_iox.influxql.service import InfluxQL
from flight_iox.metrics import ServerMetrics
from flight_iox.persist.deletes import Deleter
from flight_iox.persist.persister import Persister
from flight_iox.processing.service import ProcessingEngine
from flight_iox.query.query_log import QueryLog
from flight_iox.query.scoped import SqlService
from flight_iox.replication.service import ReplicationService
from iox_catalog import CatalogConfig


@dataclass(frozen=True)
class HttpServices:
    """What the routes call, built by the composition root (``flight_iox/app.py``)."""

    engine: Engine  # line protocol writes and database administration
    sql: SqlService  # SQL queries and updates, scoped per request
    influxql: InfluxQL
    flux: Flux  # Flux over /api/v2/query
    persister: Persister  # persist, compact and repair on demand
    catalog_config: CatalogConfig  # what outside engines need to read the tables
    metrics: ServerMetrics  # what /metrics serves
    queries: QueryLog  # system.queries, and cancelling by id
    backup: BackupSource  # what POST /api/v3/backup copies
    deleter: Deleter  # creates and drops tables for /api/v3/configure/table (as SQL DDL does)
    processing: ProcessingEngine  # triggers, plugin files and /api/v3/engine/<path>
    replication: ReplicationService  # POST /api/v3/configure/node/promote
    # Ingest nodes whose unpersisted rows a query node's answers may lack (``missing_headers``).
    missing_rows: Callable[[], list[str]] = list


MISSING_HEADER = "X-Iox-Missing-Unpersisted"


def missing_headers(request: Request) -> dict[str, str]:
    """On a query node, ``X-Iox-Missing-Unpersisted`` naming the ingest nodes that are dead
    or did not answer: the unpersisted rows they hold are missing from this answer until
    they run again (their persisted rows are read from the files as always)."""
    missing = services_of(request).missing_rows()
    return {MISSING_HEADER: ", ".join(missing)} if missing else {}


def services_of(request: Request) -> HttpServices:
    """The services of the app serving ``request``."""
    services: HttpServices = request.app.state.services
    return services
