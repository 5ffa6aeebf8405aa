"""Server settings: one frozen object, filled from CLI flags and ``FLIGHT_IOX_*`` variables.

The CLI (``flight_iox.cli``) declares each flag with its environment variable;
everything else receives a ``Settings`` and reads nothing from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from iox_catalog.config import CatalogConfig

MIB = 1024 * 1024


def split_host_port(address: str) -> tuple[str, int]:
    """Split ``host:port`` (``[::1]:port`` for IPv6) into its parts."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {address!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


@dataclass(frozen=True)
class Limits:
    """Generous default limits on how much schema one server holds."""

    max_databases: int = 1_000
    max_tables_per_database: int = 10_000
    max_columns_per_table: int = 1_000


@dataclass(frozen=True)
class QueryLimits:
    """What one query may cost: expression depth, memory, time, and how many run at once."""

    max_expression_depth: int = 500  # chained operators and brackets in one expression
    memory_limit: int = 1024 * MIB  # bytes per DataFusion memory pool (one per database); 0: none
    timeout_seconds: float = 300.0  # wall time from start to the last batch sent; 0: none
    max_concurrent: int = 16  # queries executing at once; 0: no limit
    max_queued: int = 64  # queries waiting for a slot; one more gets 503 with Retry-After
    spill_dir: Path | None = None  # where sorts and aggregations spill; None: no spilling


@dataclass(frozen=True)
class IngestLimits:
    """The largest line and values a write may carry (each rejected line says which limit)."""

    max_line_bytes: int = 1 * MIB
    max_tag_value_bytes: int = 64 * 1024
    max_field_value_bytes: int = 1 * MIB


@dataclass(frozen=True)
class Settings:
    """Everything ``flight-iox serve`` can be told."""

    data_dir: Path = Path("./flight-iox-data")
    http_addr: str = "127.0.0.1:8181"
    flight_addr: str = "127.0.0.1:8182"
    wal_fsync: bool = True
    log_level: str = "info"
    buffer_memory_limit: int = 1024 * MIB
    parquet_cache_size: int = 1024 * MIB  # decoded data files kept for queries; 0: off
    max_request_bytes: int = 64 * MIB
    wal_segment_bytes: int = 64 * MIB
    query_timeout_seconds: float = 300.0
    """--query-timeout: a query running longer is cancelled (504 / DEADLINE_EXCEEDED); 0: none."""
    query_memory_limit: int = 1024 * MIB
    """--query-memory-limit: DataFusion memory pool of each database's queries (fair, spilling)."""
    max_concurrent_queries: int = 16
    """--max-concurrent-queries: queries executing at once; others wait (0: no limit)."""
    max_queued_queries: int = 64
    """--max-queued-queries: queries waiting for a slot; past it, 503 with Retry-After."""
    max_expression_depth: int = 500
    """--max-expression-depth: chained operators and brackets in one SQL expression."""
    max_line_bytes: int = 1 * MIB
    """--max-line-bytes: longest line-protocol line."""
    max_tag_value_bytes: int = 64 * 1024
    """--max-tag-value-bytes: longest tag value (tags are series keys, kept in memory)."""
    max_field_value_bytes: int = 1 * MIB
    """--max-field-value-bytes: longest string field value."""
    http_idle_timeout_seconds: float = 10.0
    """--http-idle-timeout: close HTTP connections idle this long between requests."""
    limits: Limits = field(default_factory=Limits)
    auth: str | None = None  # "required" | "off"; None: off on loopback, else required
    auth_off_ok: bool = False  # --i-know-auth-is-off: allow auth off on other addresses
    tls_cert: Path | None = None
    tls_key: Path | None = None
    catalog_uri: str | None = None
    object_store: str = "file"
    bucket: str | None = None
    s3_endpoint: str | None = None
    s3_region: str | None = None
    s3_allow_http: bool = False
    persist_interval_seconds: float = 1.0
    persist_max_rows: int = 1_000_000
    persist_max_age_seconds: float = 600.0
    persist_on_shutdown: bool = True
    compact_min_files: int = 4

    @property
    def query_limits(self) -> QueryLimits:
        """The query bounds, spilling under the data folder."""
        return QueryLimits(
            max_expression_depth=self.max_expression_depth,
            memory_limit=self.query_memory_limit,
            timeout_seconds=self.query_timeout_seconds,
            max_concurrent=self.max_concurrent_queries,
            max_queued=self.max_queued_queries,
            spill_dir=self.data_dir / "tmp" / "query-spill",
        )

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

    def catalog_config(self) -> CatalogConfig:
        """Where the Iceberg catalog and the warehouse are."""
        local = CatalogConfig.local(self.data_dir)
        warehouse = local.warehouse
        if self.object_store == "s3":
            if not self.bucket:
                raise ValueError("--object-store s3 needs --bucket")
            warehouse = f"s3://{self.bucket.strip('/')}"
        elif self.object_store != "file":
            raise ValueError(f"unknown object store {self.object_store!r}: use file or s3")
        return CatalogConfig(
            uri=self.catalog_uri or local.uri,
            warehouse=warehouse,
            s3_endpoint=self.s3_endpoint,
            s3_region=self.s3_region,
            s3_allow_http=self.s3_allow_http,
        )
