"""One server's Prometheus metrics (``GET /metrics``), in a registry of its own.

Why a registry per server, not prometheus_client's global one: tests and benches run
several servers in one process, and each must count only its own writes and queries.
The composition root (``server.py``) builds one ``ServerMetrics`` and hands it to the
parts; a part built without one gets a private instance (counted, never served).

Two kinds of numbers:

* events (writes, WAL fsyncs, persists, compactions, queries) are counted where they
  happen, with O(1) work each: one labelled counter increment or histogram observation;
* state (buffer bytes and rows, Parquet cache bytes and hits) is read on scrape by a
  ``Collector`` (``watch``), so the write path pays nothing for it.

Label cardinality: writes are labelled by database, as the issue asks; the number of
databases is bounded by ``--max-databases`` (1,000 by default), and a deleted database's
series are removed (``forget_database``). Queries are labelled by protocol only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

PREFIX = "flight_iox"
CONTENT_TYPE = CONTENT_TYPE_LATEST
# The protocols a query arrives by (the ``protocol`` label, and system.queries' query_type).
PROTOCOLS = ("flightsql", "http_sql", "influxql", "flux")
_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_LONG = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_GROUP = (1, 2, 4, 8, 16, 32, 64, 128, 256)


@dataclass(frozen=True)
class StateSources:
    """What the scrape-time collector reads (plain callables: no engine object is held)."""

    buffer_bytes: Callable[[], int]
    buffer_rows: Callable[[], int]
    cache_bytes: Callable[[], int]
    cache_hits: Callable[[], int]
    cache_misses: Callable[[], int]
    query_slots_used: Callable[[], int]
    queries_waiting: Callable[[], int]
    aggregate_cache_bytes: Callable[[], int] = lambda: 0
    aggregate_cache_hits: Callable[[], int] = lambda: 0
    aggregate_cache_misses: Callable[[], int] = lambda: 0
    encoded_in_child: Callable[[], int] = lambda: 0
    encoded_in_thread: Callable[[], int] = lambda: 0


class _StateCollector(Collector):
    """Gauges of state, read when Prometheus scrapes rather than kept up to date per write."""

    def __init__(self, sources: StateSources) -> None:
        self._sources = sources

    def collect(self) -> Iterator[Metric]:
        """The buffer and cache numbers as they are now."""
        s = self._sources
        yield GaugeMetricFamily(
            f"{PREFIX}_buffer_bytes", "Bytes of rows held in the write buffer.", s.buffer_bytes()
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_buffer_rows", "Rows held in the write buffer.", s.buffer_rows()
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_parquet_cache_bytes",
            "Bytes of decoded Parquet files held for queries (--parquet-cache-size).",
            s.cache_bytes(),
        )
        hits, misses = s.cache_hits(), s.cache_misses()
        yield CounterMetricFamily(
            f"{PREFIX}_parquet_cache_hits", "Data files a query found decoded in the cache.", hits
        )
        yield CounterMetricFamily(
            f"{PREFIX}_parquet_cache_misses", "Data files a query found not cached.", misses
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_parquet_cache_hit_ratio",
            "Cache hits over lookups since the start (0 before any lookup).",
            hits / (hits + misses) if hits + misses else 0.0,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_aggregate_cache_bytes",
            "Bytes of per-file partial aggregates held (--aggregate-cache-size).",
            s.aggregate_cache_bytes(),
        )
        yield CounterMetricFamily(
            f"{PREFIX}_aggregate_cache_hits",
            "Data files whose partial aggregate a query found kept.",
            s.aggregate_cache_hits(),
        )
        yield CounterMetricFamily(
            f"{PREFIX}_aggregate_cache_misses",
            "Data files a query aggregated alone, their partial not kept yet.",
            s.aggregate_cache_misses(),
        )
        encodes = CounterMetricFamily(
            f"{PREFIX}_persist_encodes",
            "Batches of at least --persist-encoder-min-rows rows encoded as Parquet, by where: "
            "the encoder child, or the persister's thread (the child failed, paused or is off).",
            labels=["where"],
        )
        encodes.add_metric(["child"], s.encoded_in_child())
        encodes.add_metric(["thread"], s.encoded_in_thread())
        yield encodes
        yield GaugeMetricFamily(
            f"{PREFIX}_query_slots_used",
            "Queries holding a slot now (at most --max-concurrent-queries).",
            s.query_slots_used(),
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_queries_waiting",
            "Queries waiting for a slot now (at most --max-queued-queries; one more gets 503).",
            s.queries_waiting(),
        )
        # Process-wide (every server of the process): with RSS, it tells Arrow buffers
        # held from allocator slack and from memory outside Arrow (DataFusion, Python).
        yield GaugeMetricFamily(
            f"{PREFIX}_arrow_allocated_bytes",
            "Bytes held by Arrow's default memory pool (the whole process).",
            pa.total_allocated_bytes(),
        )


class ServerMetrics:
    """The counters and histograms of one server, and the registry that serves them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry

        def counter(name: str, doc: str, *labels: str) -> Counter:
            return Counter(f"{PREFIX}_{name}", doc, labels, registry=r)

        def histogram(name: str, doc: str, buckets: tuple[float, ...], *labels: str) -> Histogram:
            return Histogram(f"{PREFIX}_{name}", doc, labels, buckets=buckets, registry=r)

        self._lines = counter("write_lines", "Lines of line protocol received.", "database")
        self._rows = counter("write_rows", "Rows stored by writes.", "database")
        self._bytes = counter("write_bytes", "Bytes of line protocol received.", "database")
        self._rejected = counter(
            "write_rejected_lines", "Lines (or rows) a write rejected.", "database"
        )
        self._fsync = histogram("wal_fsync_seconds", "Time one WAL fsync took.", _SECONDS)
        self._group = histogram(
            "wal_fsync_group_entries", "WAL entries made durable by one fsync.", _GROUP
        )
        self._persist = histogram("persist_seconds", "Duration of persist cycles.", _LONG)
        self._persist_errors = counter("persist_errors", "Tables a persist cycle failed.")
        self._compact = histogram("compaction_seconds", "Duration of compaction passes.", _LONG)
        self._compact_errors = counter("compaction_errors", "Compaction passes that failed.")
        self._query = histogram(
            "query_seconds", "Duration of queries, streaming included.", _SECONDS, "protocol"
        )
        self._query_errors = counter("query_errors", "Queries that ended in an error.", "protocol")
        self._cluster_rows = counter(
            "cluster_rows_received_bytes",
            "Bytes of unpersisted rows a query node received from ingest nodes.",
        )
        self._active = Gauge(
            f"{PREFIX}_queries_active", "Queries running now.", ("protocol",), registry=r
        )
        # Labelled children looked up once: ``labels()`` validates and locks on every call.
        # Made at the start, so each protocol's series exist at 0 and rates work at once.
        self._by_protocol = {
            p: (self._active.labels(p), self._query.labels(p), self._query_errors.labels(p))
            for p in PROTOCOLS
        }
        self._by_database: dict[str, tuple[Counter, Counter, Counter, Counter]] = {}
        ProcessCollector(registry=r)  # process_resident_memory_bytes and friends (Linux)
        GCCollector(registry=r)  # python_gc_collections_total: a slow query during a full GC

    def watch(self, sources: StateSources) -> None:
        """Read buffer and cache state from ``sources`` at every scrape."""
        self.registry.register(_StateCollector(sources))

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)

    # --- events (hot paths: one labelled increment each) -----------------------------------

    def _database(self, database: str) -> tuple[Counter, Counter, Counter, Counter]:
        """The write counters of ``database``: lines, bytes, rows, rejected."""
        children = self._by_database.get(database)
        if children is None:  # a dict read is atomic; two threads making one child is harmless
            lines, size, rows, rejected = (
                c.labels(database) for c in (self._lines, self._bytes, self._rows, self._rejected)
            )
            children = self._by_database[database] = (lines, size, rows, rejected)
        return children

    def received(self, database: str, lines: int, size: int) -> None:
        """A line-protocol body of ``size`` bytes and ``lines`` lines arrived for ``database``."""
        counters = self._database(database)
        counters[0].inc(lines)
        counters[1].inc(size)

    def stored(self, database: str, rows: int, rejected: int) -> None:
        """A write stored ``rows`` rows and rejected ``rejected`` lines (or rows)."""
        counters = self._database(database)
        if rows:
            counters[2].inc(rows)
        if rejected:
            counters[3].inc(rejected)

    def wal_synced(self, seconds: float, entries: int) -> None:
        """One WAL fsync took ``seconds`` and made ``entries`` entries durable."""
        self._fsync.observe(seconds)
        self._group.observe(entries)

    def persisted(self, seconds: float, failures: int) -> None:
        """A persist cycle ran; ``failures`` tables stayed buffered."""
        self._persist.observe(seconds)
        if failures:
            self._persist_errors.inc(failures)

    def compacted(self, seconds: float, failed: bool) -> None:
        """A compaction pass ran (``failed``: it raised)."""
        self._compact.observe(seconds)
        if failed:
            self._compact_errors.inc()

    def query_started(self, protocol: str) -> None:
        """A query began (``protocol``: one of ``PROTOCOLS``)."""
        self._by_protocol[protocol][0].inc()

    def query_ended(self, protocol: str, seconds: float, failed: bool) -> None:
        """A query that ``query_started`` ended after ``seconds``."""
        active, duration, errors = self._by_protocol[protocol]
        active.dec()
        duration.observe(seconds)
        if failed:
            errors.inc()

    def cluster_rows_received(self, size: int) -> None:
        """A query node received ``size`` bytes of ingest nodes' unpersisted rows."""
        self._cluster_rows.inc(size)

    def forget_database(self, database: str) -> None:
        """Drop a deleted database's series (keeps the label set bounded by live databases)."""
        self._by_database.pop(database, None)
        for counter in (self._lines, self._rows, self._bytes, self._rejected):
            with contextlib.suppress(KeyError):  # the database never got this series
                counter.remove(database)
