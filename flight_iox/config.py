"""Server settings: one frozen object, filled from CLI flags and ``FLIGHT_IOX_*`` variables.

The CLI (``flight_iox.cli``) declares each flag with its environment variable;
everything else receives a ``Settings`` and reads nothing from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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
class Settings:
    """Everything ``flight-iox serve`` can be told."""

    data_dir: Path = Path("./flight-iox-data")
    http_addr: str = "127.0.0.1:8181"
    flight_addr: str = "127.0.0.1:8182"
    wal_fsync: bool = True
    log_level: str = "info"
    buffer_memory_limit: int = 1024 * MIB
    max_request_bytes: int = 64 * MIB
    wal_segment_bytes: int = 64 * MIB
    query_timeout_seconds: float = 300.0
    limits: Limits = field(default_factory=Limits)

    @property
    def wal_dir(self) -> Path:
        """The folder of WAL segment files."""
        return self.data_dir / "wal"
