"""The composition root: every service of one server, built once with its parts passed in.

Nothing below this module builds another service or reaches into one for its parts:
the write path (``Engine``), the query engine, persistence and InfluxQL each get the
narrow parts they need here, in dependency order, and are never patched afterwards.
``flight_iox/server.py`` adds the transports (HTTP, Flight SQL) over ``App``; tests
and benches build an ``App`` to run the same wiring in process.

The order is the dependency graph (docs/architecture.md): state and recovery first
(schema catalog, buffer, Iceberg catalog, object store, WAL), then the query engine
over the state, then the write path and persistence (which tell the query engine's
caches about their changes: ``ports.QueryCaches``), then the SQL service (queries
plus the persistence layer's update handler), the Arrow writer and InfluxQL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from flight_iox.auth.policy import ANONYMOUS, Authorizer, Principal
from flight_iox.auth.tokens import tokens_table
from flight_iox.backup.take import BackupSource
from flight_iox.catalog_settings import catalog_config
from flight_iox.cluster.actions import NodeAction, NodeActions
from flight_iox.cluster.node import ClusterNode
from flight_iox.cluster.ownership import TableOwnership
from flight_iox.cluster.remote import Peers
from flight_iox.cluster.remote_rows import IngestNodeRows
from flight_iox.cluster.setup import compact_lease, node_for
from flight_iox.config import Settings
from flight_iox.engine.arrow_writer import EngineWriter
from flight_iox.engine.buffer import BufferSet
from flight_iox.engine.catalog import SchemaCatalog
from flight_iox.engine.engine import Engine
from flight_iox.engine.feed import WriteFeed
from flight_iox.engine.recovery import replay
from flight_iox.engine.watermark import SequenceWatermark
from flight_iox.errors import ForbiddenError
from flight_iox.flux.service import Flux
from flight_iox.influxql.cq_scheduler import ContinuousQueries
from flight_iox.influxql.service import InfluxQL
from flight_iox.metrics import ServerMetrics, StateSources
from flight_iox.persist.deletes import Deleter
from flight_iox.persist.encoder import PartEncoder
from flight_iox.persist.follower import CatalogFollower, CatalogMirror
from flight_iox.persist.parquet_files import read_model_rows
from flight_iox.persist.persister import Persister
from flight_iox.persist.tables import TableStore
from flight_iox.processing.runner import RunnerParts
from flight_iox.processing.service import ProcessingEngine
from flight_iox.processing.store import EngineLog, TriggerStore
from flight_iox.processing.system_tables import processing_system_tables
from flight_iox.query.engine import QueryEngine
from flight_iox.query.file_cache import FileCache
from flight_iox.query.file_checks import checked_schema
from flight_iox.query.loopback_files import LoopbackFiles, query_store
from flight_iox.query.query_log import QueryLog
from flight_iox.query.scoped import SqlService
from flight_iox.query.series_index import SeriesIndex
from flight_iox.query.system_tables import SystemTable
from flight_iox.replication.replica import EntryApplier, ReplicaRole
from flight_iox.replication.service import ReplicationService, replica_urls
from flight_iox.subscriptions.service import SubscriptionService
from flight_iox.subscriptions.stream import RowStreams
from flight_iox.wal import WriteAheadLog
from flight_iox.wal.holds import TruncationHolds
from iox_catalog import IoxCatalog
from iox_catalog.storage import Storage, refuse_control_characters


@dataclass(frozen=True)
class App:
    """One server's services and the state they share (tests read the state directly)."""

    settings: Settings
    metrics: ServerMetrics
    catalog: SchemaCatalog
    buffers: BufferSet
    iceberg: IoxCatalog
    storage: Storage
    wal: WriteAheadLog
    watermark: SequenceWatermark
    feed: WriteFeed  # acknowledged writes by WAL sequence (subscriptions, triggers)
    replayed_entries: int  # WAL entries recovery read
    tables: TableStore
    query: QueryEngine
    engine: Engine
    queries: QueryLog  # system.queries, and cancelling by id
    persister: Persister
    deleter: Deleter
    backup: BackupSource  # what a backup copies, and what holds it still
    mirror: CatalogMirror  # the shared catalog as this server last applied it
    follower: CatalogFollower  # applies other servers' commits (started by the server)
    sql: SqlService
    writer: EngineWriter
    subscriptions: SubscriptionService  # push subscriptions (started by the server)
    streams: RowStreams  # streaming subscriptions over Flight
    influxql: InfluxQL
    flux: Flux
    continuous_queries: ContinuousQueries  # started by the server
    node: ClusterNode  # this node in the registry (started by the server)
    peers: Peers  # Flight clients to the other nodes
    node_actions: dict[str, NodeAction]  # what other nodes call here (cluster ingest nodes)
    processing: ProcessingEngine  # plugin triggers (started by the server)
    replication: ReplicationService  # WAL shipping, following, promotion (started by the server)
    # Ingest nodes whose unpersisted rows answers may lack (a query node's; else none).
    missing_rows: Callable[[], list[str]] = list
    loopback_files: LoopbackFiles | None = None  # local files' reads for queries, if on

    def close(self) -> None:
        """Flush and close the WAL and the clients to other nodes (the persister, follower
        and node heartbeat, if started, are stopped by their owner); each even if one raises."""
        with ExitStack() as then:  # its callbacks run last first, each even if one raises
            if self.loopback_files is not None:
                then.callback(self.loopback_files.close)
            then.callback(self.replication.stop)
            then.callback(self.tables.encoder.close)
            then.callback(self.peers.close)
            self.wal.close()


def build_app(
    settings: Settings,
    authorizer: Authorizer | None = None,
    metrics: ServerMetrics | None = None,
) -> App:
    """Recover the state from the catalog and the WAL, and build every service over it.

    With ``authorizer``, ``system.tokens`` (admin only) shows its tokens and follows
    their changes. ``metrics`` counts writes, WAL fsyncs, persists and compactions and reads
    the buffer and Parquet cache state on scrape (a private set when None). The persister's
    and the follower's background threads are not started.
    """
    started: list[LoopbackFiles] = []  # closed if building fails after (its port, its thread)
    try:
        return _build_app(settings, authorizer, metrics, started)
    except BaseException:
        for loopback in started:
            loopback.close()
        raise


def _build_app(
    settings: Settings,
    authorizer: Authorizer | None,
    metrics: ServerMetrics | None,
    started: list[LoopbackFiles],
) -> App:
    config = catalog_config(settings)
    refuse_control_characters(settings.data_dir, config.store)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    metrics = metrics if metrics is not None else ServerMetrics()
    catalog = SchemaCatalog(settings.data_dir / "catalog.json", settings.limits)
    buffers = BufferSet()
    node = node_for(settings, config)
    roles, cluster = node.roles, not node.roles.every
    sequences = node.node_id if cluster and roles.ingest else None  # its own WAL numbering
    iceberg = IoxCatalog(config, sequences)
    storage = iceberg.storage
    mirror = CatalogMirror(iceberg, catalog, buffers, sequences)
    peers = Peers(settings.cluster_token)
    persisted = mirror.load()  # every persisted table; the follower keeps it current
    holds = TruncationHolds(settings.wal_hold_max_bytes)
    wal = WriteAheadLog(
        settings.wal_dir,
        fsync=settings.wal_fsync,
        segment_bytes=settings.wal_segment_bytes,
        on_sync=metrics.wal_synced,
        holds=holds,
    )
    replayed = replay(wal, catalog, buffers, persisted)
    watermark = SequenceWatermark(wal.last_sequence)
    feed = WriteFeed(wal, watermark, holds, settings.wal_feed_memory)
    triggers = TriggerStore(catalog, settings.data_dir)
    plugin_logs = EngineLog()
    plugin_dir = settings.plugin_dir
    # Holds the WAL for every subscription before the persister may run (not started yet).
    subscriptions = SubscriptionService(catalog, feed, settings.data_dir)

    replication = ReplicationService(
        node_id=node.node_id,
        urls=replica_urls(settings.replicate_to),
        mode=settings.replication,
        quorum=settings.replication_quorum,
        timeout=settings.replication_timeout_seconds,
        feed=feed,
        applier=EntryApplier(wal, catalog, buffers, feed),
        role=ReplicaRole(settings.data_dir, node.node_id, settings.follow, settings.replica),
        token=settings.cluster_token,
    )

    queries = QueryLog(settings.query_log_size, metrics)
    system_tables = {
        "queries": SystemTable(
            queries.table, scoped=queries.table, version=lambda: queries.version
        ),
        "nodes": SystemTable(node.nodes_table, version=lambda: node.version),
        # Lag moves with the clock: rebuilt at most every 100 ms.
        "replication": SystemTable(
            replication.table, version=lambda: int(time.monotonic() * 10)
        ),  # admin only
        "subscriptions": SystemTable(
            subscriptions.table, version=lambda: subscriptions.version
        ),  # admin only
    }
    # Built before the query engine (its system table) over the catalog's settings; given
    # the InfluxQL service it runs through once that is built below.
    continuous_queries = ContinuousQueries(
        catalog, _principals(authorizer), settings.cq_run_interval_seconds
    )
    system_tables["continuous_queries"] = SystemTable(
        continuous_queries.status,
        scoped=continuous_queries.status,
        version=lambda: continuous_queries.version,
    )
    system_tables.update(processing_system_tables(triggers, plugin_logs, plugin_dir))
    if authorizer is not None:
        store = authorizer.store
        system_tables["tokens"] = SystemTable(lambda: tokens_table(store.records()))
    file_cache = FileCache(
        settings.parquet_cache_size,
        lambda file, schema: read_model_rows(file.path, schema, storage),
    )
    remote = (
        IngestNodeRows(
            node, peers, catalog, settings.cluster_pushdown, metrics.cluster_rows_received
        )
        if cluster and roles.query
        else None
    )
    # Local files are read through loopback_files.py, which bounds the memory reads leave.
    object_store, loopback = query_store(
        iceberg.config.store.datafusion_store(), settings.loopback_file_reads, Path(storage.root)
    )
    started.extend([loopback] if loopback is not None else [])
    series = SeriesIndex(storage)  # one for queries and table changes: both decide overlap
    query = QueryEngine(
        catalog,
        buffers,
        object_store=object_store,
        file_urls=loopback,
        file_cache=file_cache,
        limits=settings.query_limits,
        file_check=lambda file: checked_schema(file, storage),
        system_tables=system_tables,
        remote=remote,
        latest_rows=settings.latest_rows_rewrite,
        aggregate_cache_bytes=settings.aggregate_cache_size,
        series=series,
    )
    encoder = PartEncoder(
        settings.persist_encoder_min_rows, settings.persist_encoder_nice, settings.data_dir
    )
    metrics.watch(
        StateSources(
            buffer_bytes=lambda: buffers.total_bytes,
            buffer_rows=buffers.buffered_rows,
            cache_bytes=lambda: file_cache.used_bytes,
            cache_hits=lambda: file_cache.hits,
            cache_misses=lambda: file_cache.misses,
            query_slots_used=lambda: query.slots_used,
            queries_waiting=lambda: query.queries_waiting,
            aggregate_cache_bytes=lambda: query.partial_aggregates.used_bytes,
            aggregate_cache_hits=lambda: query.partial_aggregates.hits,
            aggregate_cache_misses=lambda: query.partial_aggregates.misses,
            encoded_in_child=lambda: encoder.in_child,
            encoded_in_thread=lambda: encoder.in_thread,
        )
    )
    if authorizer is not None:
        authorizer.store.add_listener(query.invalidate_system_tables)

    tables = TableStore(catalog, buffers, iceberg, storage, query, series, encoder)
    persister = Persister(
        settings, tables, wal, watermark, metrics,
        persists=roles.ingest, compacts=roles.compact,
        compact_lease=compact_lease(node) if cluster else None,
    )  # fmt: skip
    ownership = TableOwnership(
        node,
        peers,
        lambda db, table: mirror.load_table(db, table, persister.cycle_lock),
        settings.node_timeout_seconds,
    )
    engine = Engine(
        settings,
        catalog=catalog,
        buffers=buffers,
        iceberg=iceberg,
        wal=wal,
        feed=feed,
        caches=query,
        metrics=metrics,
        router=ownership if cluster else None,
        replication=replication,
    )
    deleter = Deleter(persister, tables, wal, watermark, replication.check_writable)
    follower = CatalogFollower(
        mirror,
        query,
        persister.cycle_lock,
        lambda: wal.last_sequence,
        settings.catalog_poll_interval_seconds,
    )
    sql = SqlService(query, deleter.execute_update)
    arrow_writer = EngineWriter(engine)
    influxql = InfluxQL(sql, arrow_writer, engine, subscriptions)
    continuous_queries.attach(influxql)
    processing = ProcessingEngine(
        plugin_dir,
        triggers,
        plugin_logs,
        RunnerParts(
            feed,
            triggers,
            settings.plugin_call_timeout_seconds,
            settings.plugin_memory_limit,
            settings.plugin_request_wait_seconds,
            table_columns=lambda db, table: _column_names(engine, db, table),
        ),
        sql,
        engine,
        authorizer,
    )
    return App(
        settings=settings,
        metrics=metrics,
        catalog=catalog,
        buffers=buffers,
        iceberg=iceberg,
        storage=storage,
        wal=wal,
        watermark=watermark,
        feed=feed,
        replayed_entries=replayed,
        tables=tables,
        query=query,
        engine=engine,
        queries=queries,
        persister=persister,
        deleter=deleter,
        backup=BackupSource(settings.data_dir, wal, tables, persister),
        mirror=mirror,
        follower=follower,
        sql=sql,
        writer=arrow_writer,
        subscriptions=subscriptions,
        streams=RowStreams(catalog, feed),
        influxql=influxql,
        flux=Flux(sql, engine.retention_ns),
        continuous_queries=continuous_queries,
        processing=processing,
        node=node,
        peers=peers,
        node_actions={
            **(
                NodeActions(engine, catalog, buffers, node, ownership).handlers()
                if cluster and roles.ingest
                else {}
            ),
            **replication.handlers(),
        },
        replication=replication,
        missing_rows=remote.missing if remote is not None else list,
        loopback_files=loopback,
    )


def _principals(authorizer: Authorizer | None) -> Callable[[str | None], Principal]:
    """A continuous query's owner (token id) -> the principal its runs act as, now."""

    def principal_of(owner: str | None) -> Principal:
        if authorizer is None or not authorizer.required:
            return ANONYMOUS
        principal = None if owner is None else authorizer.principal_of_token(owner)
        if principal is None:
            raise ForbiddenError("the token that created this continuous query no longer exists")
        return principal

    return principal_of


def _column_names(engine: Engine, database: str, table: str) -> list[str] | None:
    schema = engine.table_schema(database, table)
    return None if schema is None else schema.names
