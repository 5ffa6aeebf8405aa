"""Server settings: one frozen object, and the one place each setting is declared.

Each field carries its default and an ``Option`` (help text, flag spelling, kind) in its
metadata. ``flight_iox.cli.serve`` generates the ``flight-iox serve`` flags from these
fields, each with its environment variable ``FLIGHT_IOX_<NAME>``, so a setting is
written once: a new field gets its flag, its variable and its ``--help`` line by itself.
Everything else receives a ``Settings`` and reads nothing from the environment.

This module stays light (stdlib only): the CLI imports it to build ``--help``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flight_iox import setting_fields
from flight_iox.setting_fields import SettingSpec, group, setting

MIB = 1024 * 1024
# PyIceberg's catalog types a server can run on (its ``in-memory`` one forgets on restart).
CATALOG_TYPES = ("sql", "rest", "glue", "hive", "dynamodb", "bigquery")
# What ``--disable-authz`` may open, as InfluxDB 3's flag names them (health and ping are open).
AUTHZ_RESOURCES = ("health", "ping", "metrics")


def split_host_port(address: str) -> tuple[str, int]:
    """Split ``host:port`` (``[::1]:port`` for IPv6) into its parts."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {address!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


@dataclass(frozen=True)
class Limits:
    """Generous default limits on how much schema one server holds."""

    max_databases: int = setting(1_000, "Databases per server.", minimum=1)
    max_tables_per_database: int = setting(
        10_000, "Tables per database.", name="max_tables", minimum=1
    )
    max_columns_per_table: int = setting(
        1_000, "Columns per table, time included.", name="max_columns", minimum=2
    )


@dataclass(frozen=True)
class Settings:
    """Everything ``flight-iox serve`` can be told."""

    data_dir: Path = setting(
        Path("./flight-iox-data"), "WAL, catalog state and lock file.", kind="dir"
    )
    http_addr: str = setting("127.0.0.1:8181", "HTTP listen address (HOST:PORT; :0 picks a port).")
    flight_addr: str = setting("127.0.0.1:8182", "Flight SQL listen address (HOST:PORT).")
    http_grpc: bool = setting(
        True, "Also serve Flight SQL (gRPC) on the HTTP address, as InfluxDB 3 does on 8181."
    )
    wal_fsync: bool = setting(True, "fsync the WAL before acknowledging writes.")
    log_level: str = setting("info", "Log level.", choices=("debug", "info", "warning", "error"))
    buffer_memory_limit: int = setting(
        1024 * MIB, "Write-buffer memory; past it writes get 503.", kind="size"
    )
    parquet_cache_size: int = setting(
        1024 * MIB, "Memory for recent data files kept decoded for queries (0: off).", kind="size"
    )
    max_request_bytes: int = setting(
        64 * MIB, "Largest request body, compressed or inflated.", kind="size"
    )
    wal_segment_bytes: int = setting(
        64 * MIB, "Size at which the WAL starts a new segment file.", kind="size", minimum=1
    )
    query_timeout_seconds: float = setting(
        300.0,
        "Seconds a query may run, its streaming included; then it is cancelled (0: no limit).",
        name="query_timeout",
        minimum=0,
    )
    query_memory_limit: int = setting(
        1024 * MIB,
        "DataFusion memory pool of each database's queries (spills, then fails; 0: unbounded).",
        kind="size",
    )
    max_concurrent_queries: int = setting(
        16, "Queries executing at once; more wait in a queue (0: no limit).", minimum=0
    )
    max_queued_queries: int = setting(
        64, "Queries waiting for a slot; past it, 503 with Retry-After.", minimum=0
    )
    query_log_size: int = setting(
        1_000, "Finished queries system.queries keeps (running ones are always listed).", minimum=0
    )
    latest_rows_rewrite: bool = setting(
        True,
        "Answer natural lastpoint SQL (DISTINCT ON, row_number() = 1, a max(time) join) from "
        "the latest row of each series, where the plan proves the answer is the same.",
    )
    aggregate_cache_size: int = setting(
        64 * MIB,
        "Memory for per-file partial aggregates of repeated GROUP BY queries, where the plan "
        "proves them equal (0: off).",
        kind="size",
    )
    max_expression_depth: int = setting(
        500, "Chained operators and brackets in one SQL expression (0: none).", minimum=0
    )
    loopback_file_reads: bool = setting(
        True,
        "Queries read local data files through an S3 endpoint on loopback, which bounds "
        "their memory (off: DataFusion's local reads, whose buffers stay resident per query).",
    )
    query_file_pruning: bool = setting(
        True, "Plan each query over only the files its time range and tag values can need."
    )
    max_line_bytes: int = setting(MIB, "Longest line-protocol line.", kind="size")
    max_tag_value_bytes: int = setting(
        64 * 1024, "Longest tag value (tags are series keys, kept in memory).", kind="size"
    )
    max_field_value_bytes: int = setting(MIB, "Longest string field value.", kind="size")
    http_idle_timeout_seconds: float = setting(
        10.0,
        "Seconds an HTTP connection may wait for its next request headers.",
        name="http_idle_timeout",
        minimum=0,
    )
    limits: Limits = group(Limits)
    auth: str | None = setting(
        None,
        "Require tokens on HTTP and Flight.",
        choices=("required", "off"),
        shown_default="off on loopback, else required",
    )
    disable_authz: str = setting(
        "",
        "Resources served without a token when auth is on, comma-separated: metrics "
        "(health and ping never need one).",
        shown_default="none",
    )
    auth_off_ok: bool = setting(
        False, "Allow --auth off on a non-loopback address.", flag="--i-know-auth-is-off"
    )
    tls_cert: Path | None = setting(
        None, "PEM certificate chain: serve HTTPS and grpc+tls.", kind="file"
    )
    tls_key: Path | None = setting(None, "PEM private key of --tls-cert.", kind="file")
    catalog_type: str = setting(
        "sql", "PyIceberg catalog type (its load_catalog opens it).", choices=CATALOG_TYPES
    )
    catalog_uri: str | None = setting(
        None,
        "Catalog URI: postgresql://… to share the SQL catalog; the REST or Hive server's URL.",
        shown_default="SQLite in the data folder (sql)",
    )
    catalog_properties: tuple[tuple[str, str], ...] = setting(
        (),
        "Another PyIceberg catalog property, KEY=VALUE (repeat the flag).",
        flag="--catalog-property",
        kind="properties",
        shown_default="none",
    )
    object_store: str = setting("file", "Where data files go.", choices=("file", "s3"))
    bucket: str | None = setting(None, "S3 bucket (with --object-store s3).")
    s3_endpoint: str | None = setting(None, "S3 endpoint URL (MinIO, moto, …).")
    s3_region: str | None = setting(None, "S3 region.", shown_default="AWS_REGION or us-east-1")
    s3_allow_http: bool = setting(False, "Allow a plain-HTTP S3 endpoint.")
    s3_request_timeout_seconds: float = setting(
        3.0,
        "Seconds an S3 request may go unanswered; then it is tried again (3 tries in all).",
        name="s3_request_timeout",
        minimum=0.1,
    )
    s3_retry_mode: str = setting(
        "standard",
        "Wait before another try of a failed S3 request: standard (random, up to 1 s, "
        "doubling) or legacy (25 ms, doubling), as the AWS SDK names them.",
        choices=("standard", "legacy"),
    )
    iceberg_vend_credentials: bool = setting(
        False, "Hand the server's S3 keys to readers of the Iceberg REST catalog (/iceberg)."
    )
    wal_hold_max_bytes: int = setting(
        1024 * MIB,
        "WAL bytes kept past persistence for subscriptions and triggers that are behind.",
        kind="size",
    )
    wal_feed_memory: int = setting(
        64 * MIB,
        "Memory for the latest acknowledged writes, read by subscriptions and triggers.",
        kind="size",
    )
    persist_interval_seconds: float = setting(
        1.0, "Seconds between checks of the persist triggers.", name="persist_interval",
        minimum=0.01,
    )  # fmt: skip
    cq_run_interval_seconds: float = setting(
        1.0,
        "Seconds between looks for InfluxQL continuous queries that are due (0: never run).",
        name="cq_run_interval",
        minimum=0,
    )
    catalog_poll_interval_seconds: float = setting(
        1.0,
        "Seconds between looks at the catalog for other servers' commits (0: never).",
        name="catalog_poll_interval",
        minimum=0,
    )
    persist_max_rows: int = setting(
        1_000_000, "Persist when a table buffers this many rows.", minimum=1
    )
    persist_max_age_seconds: float = setting(
        600.0,
        "Persist when the oldest buffered row is this many seconds old.",
        name="persist_max_age",
        minimum=0.1,
    )
    persist_on_shutdown: bool = setting(True, "Persist the buffer when the server stops.")
    mode: str = setting(
        "all",
        "This node's roles, comma-separated: all, or some of ingest, query, compact "
        "(docs/cluster.md).",
    )
    node_id: str | None = setting(
        None,
        "This node's name in the cluster registry (system.nodes).",
        shown_default="HOSTNAME-HTTPPORT",
    )
    heartbeat_interval_seconds: float = setting(
        1.0,
        "Seconds between this node's heartbeats (and lease renewals) in the catalog database.",
        name="heartbeat_interval",
        minimum=0.05,
    )
    node_timeout_seconds: float = setting(
        5.0,
        "Seconds without a heartbeat after which a node is dead and its table leases expire.",
        name="node_timeout",
        minimum=0.5,
    )
    cluster_token: str | None = setting(
        None,
        "Bearer token this node presents to other nodes (forwarded writes, unpersisted rows, "
        "replication) when they require tokens.",
    )
    replicate_to: str | None = setting(
        None,
        "Replicas to ship this node's WAL to: Flight URLs, comma-separated "
        "(grpc://HOST:PORT; docs/cluster.md#replication).",
    )
    replication: str = setting(
        "async",
        "sync: acknowledge a write once the replicas have it durably; async: ship it after "
        "the acknowledgement.",
        choices=("sync", "async"),
    )
    replication_quorum: int | None = setting(
        None,
        "With sync: how many of the --replicate-to replicas must confirm a write.",
        minimum=1,
        shown_default="all of them",
    )
    replication_timeout_seconds: float = setting(
        5.0,
        "Seconds a sync write waits for its replicas (then 504), and a shipment for an answer.",
        name="replication_timeout",
        minimum=0.05,
    )
    follow: str | None = setting(
        None,
        "Be a read-only pull replica of the leader at this Flight URL (grpc://HOST:PORT).",
    )
    replica: bool = setting(
        False, "Be a read-only push replica: take WAL entries a --replicate-to leader ships."
    )
    cluster_pushdown: bool = setting(
        True,
        "A query node asks ingest nodes only for the columns and the time and tag ranges "
        "a statement needs (docs/cluster.md).",
    )
    plugin_dir: Path | None = setting(
        None,
        "Folder of processing-engine plugin files; the engine is off without it.",
        kind="dir",
    )
    plugin_call_timeout_seconds: float = setting(
        60.0,
        "Seconds one plugin call may run; then its worker process is killed.",
        name="plugin_call_timeout",
        minimum=0.01,
    )
    plugin_request_wait_seconds: float = setting(
        5.0,
        "Seconds a request waits for its request trigger's busy worker; then 503.",
        name="plugin_request_wait",
        minimum=0,
    )
    plugin_memory_limit: int = setting(
        1024 * MIB, "Address space of each plugin worker process (0: no limit).", kind="size"
    )
    compact_min_files: int = setting(
        4, "After a background persist, compact partitions with this many files.", minimum=2
    )
    persist_encoder_min_rows: int = setting(
        100_000,
        "Persists and compactions of at least this many rows are encoded into Parquet in a "
        "child process, off the server's interpreter lock (0: never).",
        minimum=0,
    )
    persist_encoder_nice: int = setting(
        10,
        "Niceness of the encoder process (Linux): on busy cores, queries and writes run first "
        "(0: none; 19: the most).",
        minimum=0,
        maximum=19,
    )

    @property
    def query_limits(self) -> QueryLimits:
        """The query bounds, spilling under the data folder."""
        return QueryLimits(
            max_expression_depth=self.max_expression_depth,
            memory_limit=self.query_memory_limit,
            timeout_seconds=self.query_timeout_seconds,
            max_concurrent=self.max_concurrent_queries,
            max_queued=self.max_queued_queries,
            prune_files=self.query_file_pruning,
            spill_dir=self.data_dir / "tmp" / "query-spill",
        )

    @property
    def public_resources(self) -> frozenset[str]:
        """The resources ``--disable-authz`` opens (``ValueError`` naming an unknown one)."""
        names = {part.strip().lower() for part in self.disable_authz.split(",") if part.strip()}
        unknown = sorted(names - set(AUTHZ_RESOURCES))
        if unknown:
            raise ValueError(
                f"--disable-authz: unknown resource {', '.join(unknown)}; "
                f"expected some of {', '.join(AUTHZ_RESOURCES)}"
            )
        return frozenset(names)

    @property
    def ingest_limits(self) -> IngestLimits:
        """The line and value size caps of line-protocol writes."""
        return IngestLimits(
            self.max_line_bytes, self.max_tag_value_bytes, self.max_field_value_bytes
        )

    @property
    def wal_dir(self) -> Path:
        """The folder of WAL segment files."""
        return self.data_dir / "wal"


@dataclass(frozen=True)
class QueryLimits:
    """What one query may cost: expression depth, memory, time, and how many run at once.

    The defaults are the settings' (one default per setting), for engines built without
    a ``Settings`` (tests, benchmarks).
    """

    max_expression_depth: int = Settings.max_expression_depth
    memory_limit: int = Settings.query_memory_limit  # bytes per DataFusion pool; 0: none
    timeout_seconds: float = Settings.query_timeout_seconds  # start to last batch sent; 0: none
    max_concurrent: int = Settings.max_concurrent_queries  # executing at once; 0: no limit
    max_queued: int = Settings.max_queued_queries  # waiting for a slot; one more gets 503
    spill_dir: Path | None = None  # where sorts and aggregations spill; None: no spilling
    prune_files: bool = Settings.query_file_pruning  # plan over the files a query can need


@dataclass(frozen=True)
class IngestLimits:
    """The largest line and values a write may carry (each rejected line says which limit)."""

    max_line_bytes: int = Settings.max_line_bytes
    max_tag_value_bytes: int = Settings.max_tag_value_bytes
    max_field_value_bytes: int = Settings.max_field_value_bytes


def setting_specs() -> list[SettingSpec]:
    """Every server setting, nested groups flattened, in declaration order."""
    return setting_fields.setting_specs(Settings)


def build_settings(values: Mapping[str, Any]) -> Settings:
    """``Settings`` from values keyed by setting name; absent names keep their default."""
    built = setting_fields.build_from(Settings, values)
    assert isinstance(built, Settings)
    return built
