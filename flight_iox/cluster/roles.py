"""What a node does: ``--mode all|ingest|query|compact`` (a comma list), parsed once.

InfluxDB 3 Enterprise names the same modes. ``all`` is every role (one process, as
before clusters existed); a node without ``ingest`` refuses writes, one without
``compact`` never compacts, one without ``query`` still answers queries over what it
holds (an ingest node answers other nodes' requests for its unpersisted rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """One role a node can take."""

    INGEST = "ingest"
    QUERY = "query"
    COMPACT = "compact"


@dataclass(frozen=True)
class Roles:
    """The roles of one node."""

    roles: frozenset[Role]

    @classmethod
    def parse(cls, mode: str) -> Roles:
        """``all`` or a comma list of roles; ``ValueError`` naming an unknown one."""
        names = {part.strip().lower() for part in mode.split(",") if part.strip()}
        if not names:
            raise ValueError("--mode: expected all, or some of ingest, query, compact")
        if "all" in names:
            return cls(frozenset(Role))
        known = {role.value for role in Role}
        unknown = sorted(names - known)
        if unknown:
            raise ValueError(
                f"--mode: unknown mode {', '.join(unknown)}; expected all, or some of "
                "ingest, query, compact"
            )
        return cls(frozenset(Role(name) for name in names))

    @property
    def ingest(self) -> bool:
        """Takes writes, holds a WAL and a buffer, persists."""
        return Role.INGEST in self.roles

    @property
    def query(self) -> bool:
        """Answers queries, reading other ingest nodes' unpersisted rows."""
        return Role.QUERY in self.roles

    @property
    def compact(self) -> bool:
        """Compacts tables (one compactor at a time per table, by lease)."""
        return Role.COMPACT in self.roles

    @property
    def every(self) -> bool:
        """All roles: a single node needs no other."""
        return self.roles == frozenset(Role)

    def __str__(self) -> str:
        return "all" if self.every else ",".join(r.value for r in Role if r in self.roles)
